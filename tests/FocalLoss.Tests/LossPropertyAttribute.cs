using FsCheck.Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// FsCheck.Xunit's <see cref="PropertyAttribute"/> for the loss properties, with a replay seed that can be
/// fixed from outside: when the environment variable <see cref="ReplayVariable"/> is set, every property
/// starts from that seed, so a run (for example each build of tests/mutation/run.fsx) draws the same
/// cases and reports the same counterexamples. Unset, each run draws fresh cases as usual.
/// </summary>
/// <remarks>
/// The value is FsCheck's replay format, as it prints it after a failure: <c>(seed, gamma)</c> or
/// <c>seed,gamma</c>, both unsigned 64-bit integers (gamma odd, as FsCheck makes it), optionally followed
/// by a start size, e.g. <c>(12725637066060010977,5987593262269096141)</c>. Every property starts from
/// that seed, and one whose generators are unchanged draws the same cases in every run. A malformed value
/// aborts the test run with FsCheck's FormatException: FsCheck.Xunit parses it outside its per-test error
/// handling, so the test host stops.
/// </remarks>
public sealed class LossPropertyAttribute : PropertyAttribute
{
    /// <summary>The environment variable that fixes the replay seed.</summary>
    public const string ReplayVariable = "FOCAL_PROPERTY_REPLAY";

    public LossPropertyAttribute()
    {
        if (Environment.GetEnvironmentVariable(ReplayVariable) is { Length: > 0 } replay)
            Replay = replay;
    }
}
