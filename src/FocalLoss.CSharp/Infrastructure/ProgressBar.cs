using System.Diagnostics;

namespace FocalLoss.Infrastructure;

/// <summary>A one-line progress bar on stderr; silent when stderr is redirected, when disabled, or for runs under 2 s.</summary>
public sealed class ProgressBar
{
    private readonly string label;
    private readonly long total;
    private readonly bool enabled;
    private readonly Stopwatch clock = Stopwatch.StartNew();
    private long lastDraw = -1;
    private bool drawn;

    /// <summary>Creates the bar; nothing is drawn until 2 s have passed.</summary>
    public ProgressBar(string label, long total, bool enabled = true)
    {
        this.label = label;
        this.total = Math.Max(1, total);
        this.enabled = enabled && !Console.IsErrorRedirected;
    }

    /// <summary>Reports <paramref name="done"/> of the total; redraws at most 4 times a second.</summary>
    public void Report(long done)
    {
        if (!enabled) return;
        var ms = clock.ElapsedMilliseconds;
        if (ms < 2000 || ms - lastDraw < 250) return;
        lastDraw = ms;
        drawn = true;
        var fraction = Math.Min(1.0, (double)done / total);
        var left = fraction > 0 ? TimeSpan.FromMilliseconds(ms / fraction - ms) : TimeSpan.Zero;
        var bar = new string('#', (int)(fraction * 30)).PadRight(30, '.');
        Console.Error.Write($"\r{label} [{bar}] {done} done, {total - done} left, {fraction:P0}, about {left:mm\\:ss} to go   ");
    }

    /// <summary>Ends the line if anything was drawn.</summary>
    public void Done()
    {
        if (drawn) Console.Error.WriteLine();
    }
}
