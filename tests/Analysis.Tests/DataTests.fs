/// Building a config's data: what the runs train on.
module Analysis.Tests.DataTests

open System
open System.IO
open Expecto
open TorchSharp
open Analysis
open Analysis.Config

/// Column means and population standard deviations of a [N, D] float tensor.
let moments (t: torch.Tensor) =
    use x = t.to_type(torch.ScalarType.Float64)
    use mean = x.mean([| 0L |])
    use sd = x.std(0L, unbiased = false)
    mean.data<float>().ToArray(), sd.data<float>().ToArray()

[<Tests>]
let tests =
    testSequenced <| testList "data of a config" [
        test "a CSV is standardised with the statistics of its training split only" {
            // Two features with different means and scales; the 70/30 split's training part is standardised
            // to mean 0 and sd 1 exactly, the test part with the same (training) statistics, so its moments
            // are not 0 and 1 exactly. Fitting on all rows or on the test rows breaks the first check.
            let path = Path.Combine(Directory.CreateTempSubdirectory("wb-std").FullName, "two.csv")
            let rng = Random(3)
            File.WriteAllLines(path, "a,b,label" :: [ for i in 0 .. 399 -> $"{5.0 + 2.0 * rng.NextDouble()},{-100.0 + 50.0 * rng.NextDouble()},{i % 2}" ])
            let train, test = Data.build (Csv(path, "label")) false 0
            use train = train
            use test = test
            let trainMean, trainSd = moments train.Features
            let testMean, testSd = moments test.Features
            for m in trainMean do Expect.isLessThan (abs m) 1e-5 $"training mean {m} is 0"
            for s in trainSd do Expect.floatClose { absolute = 1e-5; relative = 1e-5 } s 1.0 $"training sd {s} is 1"
            Expect.isTrue (testMean |> Array.exists (fun m -> abs m > 1e-3)) $"the test split keeps the training statistics (its means {testMean})"
            Expect.isTrue (testSd |> Array.exists (fun s -> abs (s - 1.0) > 1e-3)) $"(its sds {testSd})"
        }
    ]
