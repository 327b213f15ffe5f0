module Analysis.Tests.ScriptArgsTests

open System
open Expecto
open Analysis

let specs : ScriptArgs.OptionSpec list =
    [ { Name = "seeds"; Default = "20"; Help = "number of seeds" }
      { Name = "device"; Default = "auto"; Help = "device" } ]

[<Tests>]
let tests =
    testList "script arguments" [
        test "defaults apply and given options override them" {
            let options = ScriptArgs.parse specs [ "--seeds"; "5" ]
            Expect.equal options["seeds"] "5" "--seeds was given"
            Expect.equal options["device"] "auto" "--device takes its default"
            Expect.equal (ScriptArgs.int options "seeds") 5 "parsed as an integer"
        }
        test "an unknown option is an error that lists the valid ones" {
            Expect.throwsC (fun () -> ScriptArgs.parse specs [ "--epochs"; "3" ] |> ignore) (fun e ->
                Expect.stringContains e.Message "unknown option '--epochs'" "names the bad option"
                Expect.stringContains e.Message "--seeds (number of seeds; default 20), --device (device; default auto)" "lists the valid ones")
        }
        test "an option without a value and a non-integer are errors naming the option" {
            Expect.throwsC (fun () -> ScriptArgs.parse specs [ "--seeds" ] |> ignore) (fun e ->
                Expect.stringContains e.Message "option --seeds needs a value" "names the option")
            Expect.throwsC (fun () -> ScriptArgs.int (ScriptArgs.parse specs [ "--seeds"; "many" ]) "seeds" |> ignore) (fun e ->
                Expect.stringContains e.Message "--seeds must be an integer, got 'many'" "names the option and value")
        }
    ]
