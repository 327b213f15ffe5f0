/// Command lines through Argu: typed options, errors that name the option and list valid values, and
/// ranges refused before any work starts.
module Analysis.Tests.CliTests

open System
open System.IO
open Expecto
open Analysis

let fails (result: Result<'a, string>) (fragments: string list) =
    match result with
    | Ok _ -> failtest "the command line was accepted"
    | Error message -> for f in fragments do Expect.stringContains message f "the error says what is wrong"

let parsedSweep argv = Cli.tryParse<Cli.SweepArgs, Cli.Sweep> "focal-vs-ce.fsx" argv (Cli.readSweep 5 10)

[<Tests>]
let tests =
    testList "command lines" [
        test "defaults apply and given options override them, typed" {
            match parsedSweep [| "--seeds"; "3"; "--device"; "cpu"; "--shard"; "2/4" |] with
            | Ok s ->
                Expect.equal s.Seeds 3 "--seeds"
                Expect.equal s.Epochs 10 "--epochs takes the script's default"
                Expect.equal s.Device Config.Cpu "--device is a typed value"
                Expect.equal s.Shard (Some(2, 4)) "--shard"
                Expect.equal s.Workers Environment.ProcessorCount "--workers defaults to the core count"
            | Error e -> failtest e
        }
        test "zero seeds, zero workers, zero epochs are refused with the option named" {
            fails (parsedSweep [| "--seeds"; "0" |]) [ "--seeds must be >= 1, got 0" ]
            fails (parsedSweep [| "--workers"; "0" |]) [ "--workers must be >= 1, got 0" ]
            fails (parsedSweep [| "--epochs"; "0" |]) [ "--epochs must be >= 1, got 0" ]
        }
        test "a bad device or shard names the value; an unknown option lists the valid ones" {
            fails (parsedSweep [| "--device"; "tpu" |]) [ "got 'tpu'" ]
            fails (parsedSweep [| "--shard"; "5/4" |]) [ "1 <= k <= n, got '5/4'" ]
            fails (parsedSweep [| "--gamma"; "2" |]) [ "--gamma"; "--seeds"; "--workers"; "--shard" ]
            fails (parsedSweep [| "--seeds"; "many" |]) [ "--seeds"; "many" ]
        }
        test "your-data needs --data, an existing file, and a model from the list" {
            let parse argv = Cli.tryParse<Cli.YourDataArgs, Cli.YourData> "your-data.fsx" argv Cli.readYourData
            fails (parse [||]) [ "--data" ]
            fails (parse [| "--data"; "/no/such/file.csv" |]) [ "--data must be an existing CSV file, got '/no/such/file.csv'" ]
            let csv = Path.GetTempFileName()
            fails (parse [| "--data"; csv; "--model"; "resnet" |]) [ "resnet"; "logistic"; "mlp" ]
            match parse [| "--data"; csv; "--model"; "mlp" |] with
            | Ok y -> Expect.equal y.Model (Config.Mlp [ 32 ]) "--model mlp"
            | Error e -> failtest e
        }
        test "an option given twice, too many workers, a file as results root and an escaping merge name are refused" {
            fails (parsedSweep [| "--seeds"; "2"; "--seeds"; "3" |]) [ "--seeds" ]
            fails (parsedSweep [| "--workers"; string (5 * Environment.ProcessorCount) |]) [ "--workers must be <= " ]
            let file = Path.GetTempFileName()
            fails (parsedSweep [| "--results"; file |]) [ "--results must be a folder, got the file" ]
            let root = Directory.CreateTempSubdirectory("wb-merge").FullName
            fails (Cli.tryParse<Cli.MergeArgs, _> "merge.fsx" [| "--experiment"; "../../escape"; "--from"; root |] Cli.readMerge) [ "--experiment: Experiment must be a relative folder name" ]
        }
        test "a device this machine does not have is refused when the options are read" {
            if not (TorchSharp.torch.cuda.is_available ()) then
                fails (parsedSweep [| "--device"; "cuda" |]) [ "needs CUDA" ]
            fails (parsedSweep [| "--device"; "cuda:01" |]) [ "got 'cuda:01'" ]
        }
        test "--help prints the generated usage" {
            match parsedSweep [| "--help" |] with
            | Error usage -> Expect.stringContains usage "--seeds <int>" "usage lists the options with their types"
            | Ok _ -> failtest "--help must not start a run"
        }
    ]
