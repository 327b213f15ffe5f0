// What: the focal-vs-cross-entropy comparison on any CSV you bring: a header row, numeric feature columns
// and a label column of class ids 0..C-1 (0/1 for a binary task). The task and the class count come from the
// labels. 30 % is held out (stratified, per seed); features are standardised on the training split only.
// Writes results/your-data/<file name>-<content hash>/<label column>/report.html and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/your-data.fsx --data FILE.csv --label COLUMN [--model logistic --seeds 5 --epochs 20] (-- --help lists the options)
#load "load.fsx"
open System.IO
open Analysis
open Analysis.Config

let cli = Cli.yourData "your-data.fsx" (Cli.scriptArguments fsi.CommandLineArgs)
let baseConfig =
    Experiment.applyStandard cli.Sweep
        { defaults with Experiment = Experiment.yourDataExperiment cli.Csv cli.Label; Dataset = Csv(cli.Csv, cli.Label); Model = cli.Model }
let facts = match Data.facts baseConfig with Ok f -> f | Error e -> eprintfn "%s" e; exit 2   // errors name file, line and column
printfn "%s: %d + %d rows (train + test), features %A, task %A" cli.Csv facts.TrainCount facts.TestCount facts.FeatureShape facts.Task
let losses : (RunConfig -> RunConfig) list =
    match facts.Task with
    | MultiClass _ ->
        [ (fun c -> { c with Loss = SoftmaxCrossEntropy }); (fun c -> { c with Loss = SoftmaxFocal(None, 2.0) }) ]
    | Binary ->
        [ (fun c -> { c with Loss = BinaryCrossEntropy }); (fun c -> { c with Loss = BalancedBinaryCrossEntropy 0.25 })
          (fun c -> { c with Loss = SigmoidFocal(Some 0.25, 2.0) }); (fun c -> { c with Loss = SigmoidFocal(None, 2.0) }) ]
let fileName = Path.GetFileName cli.Csv
Experiment.runAndReport $"Focal loss against cross-entropy on {fileName}"
    $"Your data: {facts.TrainCount + facts.TestCount} rows, label column '{cli.Label}', task {facts.Task}; 30 %% held out per seed (stratified)."
    cli.Sweep (Experiment.grid baseConfig [ id ] losses (Experiment.seeds cli.Sweep))
|> ignore
