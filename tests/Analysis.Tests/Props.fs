/// FsCheck settings every Expecto property uses: its number of tests and, when FOCAL_PROPERTY_REPLAY is set
/// (the mutation check sets it), one fixed replay seed, so a verdict over broken code is reproducible.
module Analysis.Tests.Props

open System
open Expecto

/// The replay seed from FOCAL_PROPERTY_REPLAY, written "(seed,gamma)" as FsCheck prints it; None when unset.
let replay =
    match Environment.GetEnvironmentVariable "FOCAL_PROPERTY_REPLAY" with
    | null | "" -> None
    | text ->
        match text.Trim('(', ')', ' ').Split(',', StringSplitOptions.TrimEntries) with
        | [| seed; gamma |] -> Some(UInt64.Parse seed, UInt64.Parse gamma, None)
        | _ -> failwithf "FOCAL_PROPERTY_REPLAY must be \"(seed,gamma)\", got '%s'" text

/// The config of a property with `maxTest` cases.
let config (maxTest: int) = { FsCheckConfig.defaultConfig with maxTest = maxTest; replay = replay }
