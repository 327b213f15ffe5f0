using System.Buffers.Binary;
using System.Text;

namespace FocalLoss.Runtime;

/// <summary>One version need of a shared object (an <c>Elf64_Vernaux</c> entry of <c>.gnu.version_r</c>).</summary>
/// <param name="File">The library the version is needed from, e.g. <c>libstdc++.so.6</c>.</param>
/// <param name="Version">The version name, e.g. <c>GLIBCXX_3.4.32</c>.</param>
/// <param name="Index">The version index (<c>vna_other</c>) that <c>.gnu.version</c> entries refer to.</param>
/// <param name="Flags">The <c>vna_flags</c> field; <see cref="ElfImage.VerFlagWeak"/> marks a weak need.</param>
/// <param name="FlagsOffset">File offset of the 16-bit <c>vna_flags</c> field, for patching.</param>
public sealed record VersionNeed(string File, string Version, int Index, ushort Flags, long FlagsOffset)
{
    /// <summary>True when the need carries <c>VER_FLG_WEAK</c>: the loader does not fail when the version is absent.</summary>
    public bool IsWeak => (Flags & ElfImage.VerFlagWeak) != 0;
}

/// <summary>One dynamic symbol with its version index (from <c>.gnu.version</c>, hidden bit cleared).</summary>
/// <param name="Index">Position in <c>.dynsym</c>.</param>
/// <param name="Name">Symbol name (mangled).</param>
/// <param name="VersionIndex">Version index, 0 (local) and 1 (global) meaning unversioned.</param>
/// <param name="IsDefined">True when the symbol is defined in this object (section index not <c>SHN_UNDEF</c>).</param>
public sealed record DynamicSymbol(int Index, string Name, int VersionIndex, bool IsDefined);

/// <summary>
/// A minimal, read-only reader of the parts of a 64-bit little-endian ELF shared object that decide
/// whether the dynamic loader will accept it: version needs (<c>.gnu.version_r</c>), version
/// definitions (<c>.gnu.version_d</c>), dynamic symbols with their versions, and the symbols that
/// relocations actually bind. It exists so that <see cref="TorchRuntime"/> can prove, before it patches
/// anything, that a missing symbol version is named but never used.
/// </summary>
public sealed class ElfImage
{
    /// <summary><c>VER_FLG_WEAK</c> from <c>elf.h</c>: a weak version need.</summary>
    public const ushort VerFlagWeak = 0x2;

    private const uint ShtRela = 4, ShtRel = 9, ShtDynsym = 11;
    private const uint ShtGnuVerdef = 0x6ffffffd, ShtGnuVerneed = 0x6ffffffe, ShtGnuVersym = 0x6fffffff;

    private readonly byte[] _bytes;

    private ElfImage(byte[] bytes, string source)
    {
        _bytes = bytes;
        Source = source;
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw new InvalidDataException($"{source}: not an ELF file (bad magic or shorter than 64 bytes)");
        if (bytes[4] != 2)
            throw new InvalidDataException($"{source}: expected a 64-bit ELF (EI_CLASS 2), got EI_CLASS {bytes[4]}");
        if (bytes[5] != 1)
            throw new InvalidDataException($"{source}: expected a little-endian ELF (EI_DATA 1), got EI_DATA {bytes[5]}");

        var sections = ReadSections();
        var dynsym = sections.FirstOrDefault(s => s.Type == ShtDynsym);
        Symbols = dynsym is null ? [] : ReadSymbols(sections, dynsym);
        VersionNeeds = sections.Where(s => s.Type == ShtGnuVerneed).SelectMany(s => ReadVersionNeeds(sections, s)).ToList();
        VersionDefinitions = sections.Where(s => s.Type == ShtGnuVerdef).SelectMany(s => ReadVersionDefinitions(sections, s)).ToHashSet(StringComparer.Ordinal);
        RelocatedSymbols = dynsym is null
            ? new HashSet<int>()
            : sections.Where(s => (s.Type == ShtRela || s.Type == ShtRel) && s.Link == dynsym.Ordinal)
                      .SelectMany(ReadRelocationSymbols).ToHashSet();
    }

    /// <summary>Where the bytes came from (a path, for messages).</summary>
    public string Source { get; }

    /// <summary>The file's bytes (a private copy; patching returns a new array).</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>Every version need of every needed library.</summary>
    public IReadOnlyList<VersionNeed> VersionNeeds { get; }

    /// <summary>Names of the versions this object defines (for a library such as libstdc++: <c>GLIBCXX_3.4.30</c>, ...).</summary>
    public IReadOnlySet<string> VersionDefinitions { get; }

    /// <summary>The dynamic symbols, in <c>.dynsym</c> order.</summary>
    public IReadOnlyList<DynamicSymbol> Symbols { get; }

    /// <summary><c>.dynsym</c> indices referenced by at least one dynamic relocation (<c>.rela.dyn</c>, <c>.rela.plt</c>).</summary>
    public IReadOnlySet<int> RelocatedSymbols { get; }

    /// <summary>Reads and parses an ELF file.</summary>
    public static ElfImage Load(string path) => new(File.ReadAllBytes(path), path);

    /// <summary>Parses ELF bytes; <paramref name="source"/> names them in error messages.</summary>
    public static ElfImage Parse(byte[] bytes, string source) => new((byte[])bytes.Clone(), source);

    /// <summary>The symbols whose version is the need <paramref name="need"/>.</summary>
    public IReadOnlyList<DynamicSymbol> SymbolsBoundTo(VersionNeed need) =>
        Symbols.Where(s => s.VersionIndex == need.Index).ToList();

    /// <summary>
    /// Returns a copy of the file with <c>VER_FLG_WEAK</c> set on the given version needs and nothing
    /// else changed. The caller is responsible for proving that doing so is safe.
    /// </summary>
    public byte[] WithWeakNeeds(IEnumerable<VersionNeed> needs)
    {
        var copy = (byte[])_bytes.Clone();
        foreach (var need in needs)
        {
            var span = copy.AsSpan(checked((int)need.FlagsOffset), 2);
            BinaryPrimitives.WriteUInt16LittleEndian(span, (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(span) | VerFlagWeak));
        }
        return copy;
    }

    private sealed record Section(int Ordinal, uint Type, long Offset, long Size, int Link, uint Info, long EntrySize);

    private ushort U16(long at) => BinaryPrimitives.ReadUInt16LittleEndian(Slice(at, 2));
    private uint U32(long at) => BinaryPrimitives.ReadUInt32LittleEndian(Slice(at, 4));
    private ulong U64(long at) => BinaryPrimitives.ReadUInt64LittleEndian(Slice(at, 8));

    private ReadOnlySpan<byte> Slice(long at, int count)
    {
        if (at < 0 || at + count > _bytes.Length)
            throw new InvalidDataException($"{Source}: truncated ELF, needed {count} bytes at offset {at}, file has {_bytes.Length}");
        return _bytes.AsSpan((int)at, count);
    }

    private string CString(long at)
    {
        var end = at;
        while (end < _bytes.Length && _bytes[end] != 0) end++;
        if (end >= _bytes.Length) throw new InvalidDataException($"{Source}: unterminated string at offset {at}");
        return Encoding.ASCII.GetString(_bytes, (int)at, (int)(end - at));
    }

    private List<Section> ReadSections()
    {
        var shoff = (long)U64(0x28);
        var shentsize = U16(0x3a);
        var shnum = U16(0x3c);
        if (shoff == 0 || shnum == 0) throw new InvalidDataException($"{Source}: the ELF has no section headers");
        var result = new List<Section>(shnum);
        for (var i = 0; i < shnum; i++)
        {
            var h = shoff + (long)i * shentsize;
            result.Add(new Section(i, U32(h + 4), (long)U64(h + 0x18), (long)U64(h + 0x20), (int)U32(h + 0x28), U32(h + 0x2c), (long)U64(h + 0x38)));
        }
        return result;
    }

    private List<DynamicSymbol> ReadSymbols(List<Section> sections, Section dynsym)
    {
        var strtab = sections[dynsym.Link];
        var versym = sections.FirstOrDefault(s => s.Type == ShtGnuVersym);
        var count = (int)(dynsym.Size / 24);
        var result = new List<DynamicSymbol>(count);
        for (var i = 0; i < count; i++)
        {
            var e = dynsym.Offset + i * 24L;
            var name = CString(strtab.Offset + U32(e));
            var shndx = U16(e + 6);
            var version = versym is null ? 1 : U16(versym.Offset + i * 2L) & 0x7fff;
            result.Add(new DynamicSymbol(i, name, version, shndx != 0));
        }
        return result;
    }

    private IEnumerable<VersionNeed> ReadVersionNeeds(List<Section> sections, Section verneed)
    {
        var strtab = sections[verneed.Link];
        var entry = verneed.Offset;
        for (uint n = 0; n < verneed.Info; n++)
        {
            var count = U16(entry + 2);
            var file = CString(strtab.Offset + U32(entry + 4));
            var aux = entry + U32(entry + 8);
            for (var a = 0; a < count; a++)
            {
                yield return new VersionNeed(file, CString(strtab.Offset + U32(aux + 8)), U16(aux + 6), U16(aux + 4), aux + 4);
                var nextAux = U32(aux + 12);
                if (nextAux == 0) break;
                aux += nextAux;
            }
            var next = U32(entry + 12);
            if (next == 0) break;
            entry += next;
        }
    }

    private IEnumerable<string> ReadVersionDefinitions(List<Section> sections, Section verdef)
    {
        var strtab = sections[verdef.Link];
        var entry = verdef.Offset;
        for (uint n = 0; n < verdef.Info; n++)
        {
            // Elf64_Verdef: vd_version u16, vd_flags u16, vd_ndx u16, vd_cnt u16, vd_hash u32, vd_aux u32, vd_next u32;
            // the first Verdaux (vda_name u32, vda_next u32) names the version.
            var aux = entry + U32(entry + 12);
            yield return CString(strtab.Offset + U32(aux));
            var next = U32(entry + 16);
            if (next == 0) break;
            entry += next;
        }
    }

    private IEnumerable<int> ReadRelocationSymbols(Section section)
    {
        var entrySize = section.EntrySize != 0 ? section.EntrySize : (section.Type == ShtRela ? 24 : 16);
        var count = section.Size / entrySize;
        for (long i = 0; i < count; i++)
        {
            var info = U64(section.Offset + i * entrySize + 8);
            var symbol = (int)(info >> 32);
            if (symbol != 0) yield return symbol;
        }
    }
}
