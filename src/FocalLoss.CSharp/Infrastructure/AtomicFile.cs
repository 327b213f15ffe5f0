namespace FocalLoss.Infrastructure;

/// <summary>Writes files through a temporary file in the same folder and a rename: readers see the old or the new file, never half.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Lets <paramref name="writeTo"/> write a temporary file beside <paramref name="path"/>, then renames it
    /// over <paramref name="path"/> (atomic on one file system). The temporary file is removed if writing fails.
    /// </summary>
    public static void Write(string path, Action<string> writeTo)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        var temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            writeTo(temp);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Writes <paramref name="text"/> to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) => Write(path, temp => File.WriteAllText(temp, text));
}
