using System.Globalization;

namespace FocalLoss.Infrastructure;

/// <summary>How messages and reports show shapes and numbers, the same everywhere.</summary>
public static class Format
{
    /// <summary>A shape as messages show it: <c>[16, 1]</c>.</summary>
    public static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    /// <summary>A number in the invariant culture with round-trip precision: <c>0.25</c>, <c>-1</c>, <c>NaN</c>.</summary>
    public static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
