// What: the focal-vs-cross-entropy comparison on any CSV you bring: a header row, numeric feature columns
// and a label column of 0/1 (binary) or class ids 0..C-1. 30 % is held out (stratified, per seed); features
// are standardised on the training split only. Writes results/your-data/<file name>/report.html and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/your-data.fsx --data FILE.csv --label COLUMN [--model logistic --seeds 5 --epochs 20]
#load "load.fsx"
open System.IO
open Analysis
open Analysis.Config

let options =
    ScriptArgs.parse
        (Experiment.standardOptions 5 20
         @ [ { Name = "data"; Default = ""; Help = "the CSV file" }
             { Name = "label"; Default = "label"; Help = "the label column" }
             { Name = "model"; Default = "logistic"; Help = "logistic or mlp" } ])
        (ScriptArgs.scriptArguments fsi.CommandLineArgs)
let table = FocalLoss.Data.CsvTable.Load(options["data"], options["label"])   // fails early, naming file, line and column
let multiClass = table.NumClasses > 2
printfn "%s: %d rows, %d features, %d classes" options["data"] table.Rows.Length table.FeatureNames.Count table.NumClasses
let baseConfig =
    Experiment.applyStandard options
        { defaults with Experiment = Path.Combine("your-data", Path.GetFileNameWithoutExtension(options["data"]))
                        Dataset = "csv"; CsvPath = Path.GetFullPath(options["data"]); LabelColumn = options["label"]; Model = options["model"] }
let losses : (RunConfig -> RunConfig) list =
    if multiClass then
        [ (fun c -> { c with Loss = "cross_entropy" }); (fun c -> { c with Loss = "softmax_focal"; Alpha = -1.0; Gamma = 2.0 }) ]
    else
        [ (fun c -> { c with Loss = "bce" }); (fun c -> { c with Loss = "balanced_bce"; Alpha = 0.25 })
          (fun c -> { c with Loss = "sigmoid_focal"; Alpha = 0.25; Gamma = 2.0 }); (fun c -> { c with Loss = "sigmoid_focal"; Alpha = -1.0; Gamma = 2.0 }) ]
let fileName = Path.GetFileName(options["data"])
let labelColumn = options["label"]
Experiment.runAndReport $"Focal loss against cross-entropy on {fileName}"
    $"Your data: {table.Rows.Length} rows, {table.FeatureNames.Count} features, label column '{labelColumn}', {table.NumClasses} classes; 30 %% held out per seed (stratified)."
    options (grid baseConfig [ id ] losses (Experiment.seeds options))
|> ignore
