using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FocalLoss;

/// <summary>
/// One SIMD register of float32 or float64 lanes, as the fused kernel's arithmetic sees it: the kernel's math is
/// written once against this interface and compiled per implementation (<see cref="Lanes256{T}"/> for AVX2,
/// <see cref="Lanes512{T}"/> for AVX-512), the JIT inlining every member. Masks are lanes with all bits set.
/// </summary>
internal unsafe interface ILanes<TV> where TV : unmanaged, ILanes<TV>
{
    /// <summary>Lanes in one register.</summary>
    static abstract int Count { get; }
    /// <summary>True for float32 lanes, false for float64.</summary>
    static abstract bool IsSingle { get; }
    static abstract TV Zero { get; }
    static abstract TV One { get; }
    /// <summary>0, 1, ..., Count - 1.</summary>
    static abstract TV Indices { get; }
    /// <summary>Every lane <paramref name="value"/>, rounded to the lanes' precision.</summary>
    static abstract TV Create(double value);
    /// <summary>The lanes at element <paramref name="i"/> of <paramref name="data"/>.</summary>
    static abstract TV Load(void* data, long i);
    static abstract void Store(TV v, void* data, long i);

    static abstract TV operator +(TV a, TV b);
    static abstract TV operator -(TV a, TV b);
    static abstract TV operator *(TV a, TV b);
    static abstract TV operator /(TV a, TV b);
    static abstract TV operator -(TV a);
    static abstract TV operator &(TV a, TV b);
    static abstract TV operator |(TV a, TV b);
    static abstract TV operator ~(TV a);

    static abstract TV Abs(TV a);
    /// <summary>The hardware's min and max (the second operand where either is NaN).</summary>
    static abstract TV Min(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    /// <summary><c>a b + c</c> with one rounding.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>To the nearest integer, ties to even.</summary>
    static abstract TV Round(TV a);
    /// <summary><c>2^n</c> for integral <paramref name="n"/> in the normal range, built in the exponent field.</summary>
    static abstract TV PowerOfTwo(TV n);
    /// <summary>.NET's vectorised <c>exp</c> and <c>log</c>.</summary>
    static abstract TV Exp(TV a);
    static abstract TV Log(TV a);

    static abstract TV Equal(TV a, TV b);
    static abstract TV GreaterOrEqual(TV a, TV b);
    static abstract TV Greater(TV a, TV b);
    static abstract TV LessOrEqual(TV a, TV b);
    static abstract TV Less(TV a, TV b);
    /// <summary><paramref name="whenTrue"/> where <paramref name="mask"/>'s lane is set, else <paramref name="whenFalse"/>.</summary>
    static abstract TV Select(TV mask, TV whenTrue, TV whenFalse);
    /// <summary>Whether any bit of <paramref name="mask"/> is set.</summary>
    static abstract bool Any(TV mask);

    /// <summary>
    /// Adds <paramref name="v"/>'s lanes, widened to float64, to two accumulators that hold float64 lanes (their
    /// bits in this type; float64 lanes use only the first).
    /// </summary>
    static abstract (TV, TV) Accumulate(TV acc0, TV acc1, TV v);
    /// <summary>The sum of <see cref="Accumulate"/>'s float64 lanes, in lane order.</summary>
    static abstract double Total(TV acc0, TV acc1);
}

/// <summary>Loads and stores of a partial register, through a padded buffer.</summary>
internal static unsafe class Lanes
{
    /// <summary>The elements <c>[i, i + count)</c>, the rest of the register <paramref name="pad"/>.</summary>
    public static TV LoadPartial<TV, T>(T* data, long i, int count, T pad) where TV : unmanaged, ILanes<TV> where T : unmanaged
    {
        T* buffer = stackalloc T[TV.Count];
        for (int k = 0; k < TV.Count; k++) buffer[k] = k < count ? data[i + k] : pad;
        return TV.Load(buffer, 0);
    }

    public static void StorePartial<TV, T>(TV v, T* data, long i, int count) where TV : unmanaged, ILanes<TV> where T : unmanaged
    {
        T* buffer = stackalloc T[TV.Count];
        TV.Store(v, buffer, 0);
        for (int k = 0; k < count; k++) data[i + k] = buffer[k];
    }
}

/// <summary>AVX2 registers: 8 float32 or 4 float64 lanes.</summary>
internal readonly unsafe struct Lanes256<T> : ILanes<Lanes256<T>> where T : unmanaged
{
    private readonly Vector256<T> v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Lanes256(Vector256<T> value) => v = value;

    public static int Count => Vector256<T>.Count;
    public static bool IsSingle
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(T) == typeof(float);
    }

    public static Lanes256<T> Zero => new(Vector256<T>.Zero);
    public static Lanes256<T> One => new(Vector256<T>.One);
    public static Lanes256<T> Indices => new(Vector256<T>.Indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Create(double value) =>
        new(typeof(T) == typeof(float) ? Vector256.Create((float)value).As<float, T>() : Vector256.Create(value).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Load(void* data, long i) => new(Vector256.Load((T*)data + i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes256<T> a, void* data, long i) => a.v.Store((T*)data + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator +(Lanes256<T> a, Lanes256<T> b) => new(a.v + b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator -(Lanes256<T> a, Lanes256<T> b) => new(a.v - b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator *(Lanes256<T> a, Lanes256<T> b) => new(a.v * b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator /(Lanes256<T> a, Lanes256<T> b) => new(a.v / b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator -(Lanes256<T> a) => new(-a.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator &(Lanes256<T> a, Lanes256<T> b) => new(a.v & b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator |(Lanes256<T> a, Lanes256<T> b) => new(a.v | b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> operator ~(Lanes256<T> a) => new(~a.v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Abs(Lanes256<T> a) => new(Vector256.Abs(a.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Min(Lanes256<T> a, Lanes256<T> b) => new(Vector256.MinNative(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Max(Lanes256<T> a, Lanes256<T> b) => new(Vector256.MaxNative(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Fma(Lanes256<T> a, Lanes256<T> b, Lanes256<T> c) =>
        typeof(T) == typeof(float)
            ? new(Vector256.FusedMultiplyAdd(a.v.As<T, float>(), b.v.As<T, float>(), c.v.As<T, float>()).As<float, T>())
            : new(Vector256.FusedMultiplyAdd(a.v.As<T, double>(), b.v.As<T, double>(), c.v.As<T, double>()).As<double, T>());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Round(Lanes256<T> a) =>
        typeof(T) == typeof(float) ? new(Vector256.Round(a.v.As<T, float>()).As<float, T>()) : new(Vector256.Round(a.v.As<T, double>()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> PowerOfTwo(Lanes256<T> n) =>
        typeof(T) == typeof(float)
            ? new(((Vector256.ConvertToInt32Native(n.v.As<T, float>()) + Vector256.Create(127)) << 23).As<int, T>())
            : new(((Vector256.ConvertToInt64Native(n.v.As<T, double>()) + Vector256.Create(1023L)) << 52).As<long, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Exp(Lanes256<T> a) =>
        typeof(T) == typeof(float) ? new(Vector256.Exp(a.v.As<T, float>()).As<float, T>()) : new(Vector256.Exp(a.v.As<T, double>()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes256<T> Log(Lanes256<T> a) =>
        typeof(T) == typeof(float) ? new(Vector256.Log(a.v.As<T, float>()).As<float, T>()) : new(Vector256.Log(a.v.As<T, double>()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Equal(Lanes256<T> a, Lanes256<T> b) => new(Vector256.Equals(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> GreaterOrEqual(Lanes256<T> a, Lanes256<T> b) => new(Vector256.GreaterThanOrEqual(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Greater(Lanes256<T> a, Lanes256<T> b) => new(Vector256.GreaterThan(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> LessOrEqual(Lanes256<T> a, Lanes256<T> b) => new(Vector256.LessThanOrEqual(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Less(Lanes256<T> a, Lanes256<T> b) => new(Vector256.LessThan(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes256<T> Select(Lanes256<T> mask, Lanes256<T> whenTrue, Lanes256<T> whenFalse) => new(Vector256.ConditionalSelect(mask.v, whenTrue.v, whenFalse.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool Any(Lanes256<T> mask) => mask.v != Vector256<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Lanes256<T>, Lanes256<T>) Accumulate(Lanes256<T> acc0, Lanes256<T> acc1, Lanes256<T> a)
    {
        if (typeof(T) != typeof(float)) return (acc0 + a, acc1);
        var f = a.v.As<T, float>();
        return (new((acc0.v.As<T, double>() + Vector256.WidenLower(f)).As<double, T>()),
                new((acc1.v.As<T, double>() + Vector256.WidenUpper(f)).As<double, T>()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Total(Lanes256<T> acc0, Lanes256<T> acc1)
    {
        var sum = acc0.v.As<T, double>() + acc1.v.As<T, double>();
        double total = 0;
        for (int k = 0; k < Vector256<double>.Count; k++) total += sum.GetElement(k);
        return total;
    }
}

/// <summary>AVX-512 registers: 16 float32 or 8 float64 lanes.</summary>
internal readonly unsafe struct Lanes512<T> : ILanes<Lanes512<T>> where T : unmanaged
{
    private readonly Vector512<T> v;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Lanes512(Vector512<T> value) => v = value;

    public static int Count => Vector512<T>.Count;
    public static bool IsSingle
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => typeof(T) == typeof(float);
    }

    public static Lanes512<T> Zero => new(Vector512<T>.Zero);
    public static Lanes512<T> One => new(Vector512<T>.One);
    public static Lanes512<T> Indices => new(Vector512<T>.Indices);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Create(double value) =>
        new(typeof(T) == typeof(float) ? Vector512.Create((float)value).As<float, T>() : Vector512.Create(value).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Load(void* data, long i) => new(Vector512.Load((T*)data + i));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Lanes512<T> a, void* data, long i) => a.v.Store((T*)data + i);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator +(Lanes512<T> a, Lanes512<T> b) => new(a.v + b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator -(Lanes512<T> a, Lanes512<T> b) => new(a.v - b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator *(Lanes512<T> a, Lanes512<T> b) => new(a.v * b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator /(Lanes512<T> a, Lanes512<T> b) => new(a.v / b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator -(Lanes512<T> a) => new(-a.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator &(Lanes512<T> a, Lanes512<T> b) => new(a.v & b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator |(Lanes512<T> a, Lanes512<T> b) => new(a.v | b.v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> operator ~(Lanes512<T> a) => new(~a.v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Abs(Lanes512<T> a) => new(Vector512.Abs(a.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Min(Lanes512<T> a, Lanes512<T> b) => new(Vector512.MinNative(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Max(Lanes512<T> a, Lanes512<T> b) => new(Vector512.MaxNative(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Fma(Lanes512<T> a, Lanes512<T> b, Lanes512<T> c) =>
        typeof(T) == typeof(float)
            ? new(Vector512.FusedMultiplyAdd(a.v.As<T, float>(), b.v.As<T, float>(), c.v.As<T, float>()).As<float, T>())
            : new(Vector512.FusedMultiplyAdd(a.v.As<T, double>(), b.v.As<T, double>(), c.v.As<T, double>()).As<double, T>());
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Round(Lanes512<T> a) =>
        typeof(T) == typeof(float) ? new(Vector512.Round(a.v.As<T, float>()).As<float, T>()) : new(Vector512.Round(a.v.As<T, double>()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> PowerOfTwo(Lanes512<T> n) =>
        typeof(T) == typeof(float)
            ? new(((Vector512.ConvertToInt32Native(n.v.As<T, float>()) + Vector512.Create(127)) << 23).As<int, T>())
            : new(((Vector512.ConvertToInt64Native(n.v.As<T, double>()) + Vector512.Create(1023L)) << 52).As<long, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Exp(Lanes512<T> a) =>
        typeof(T) == typeof(float) ? new(Vector512.Exp(a.v.As<T, float>()).As<float, T>()) : new(Vector512.Exp(a.v.As<T, double>()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Lanes512<T> Log(Lanes512<T> a) =>
        typeof(T) == typeof(float) ? new(Vector512.Log(a.v.As<T, float>()).As<float, T>()) : new(Vector512.Log(a.v.As<T, double>()).As<double, T>());

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Equal(Lanes512<T> a, Lanes512<T> b) => new(Vector512.Equals(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> GreaterOrEqual(Lanes512<T> a, Lanes512<T> b) => new(Vector512.GreaterThanOrEqual(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Greater(Lanes512<T> a, Lanes512<T> b) => new(Vector512.GreaterThan(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> LessOrEqual(Lanes512<T> a, Lanes512<T> b) => new(Vector512.LessThanOrEqual(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Less(Lanes512<T> a, Lanes512<T> b) => new(Vector512.LessThan(a.v, b.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Lanes512<T> Select(Lanes512<T> mask, Lanes512<T> whenTrue, Lanes512<T> whenFalse) => new(Vector512.ConditionalSelect(mask.v, whenTrue.v, whenFalse.v));
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static bool Any(Lanes512<T> mask) => mask.v != Vector512<T>.Zero;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (Lanes512<T>, Lanes512<T>) Accumulate(Lanes512<T> acc0, Lanes512<T> acc1, Lanes512<T> a)
    {
        if (typeof(T) != typeof(float)) return (acc0 + a, acc1);
        var f = a.v.As<T, float>();
        return (new((acc0.v.As<T, double>() + Vector512.WidenLower(f)).As<double, T>()),
                new((acc1.v.As<T, double>() + Vector512.WidenUpper(f)).As<double, T>()));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Total(Lanes512<T> acc0, Lanes512<T> acc1)
    {
        var sum = acc0.v.As<T, double>() + acc1.v.As<T, double>();
        double total = 0;
        for (int k = 0; k < Vector512<double>.Count; k++) total += sum.GetElement(k);
        return total;
    }
}
