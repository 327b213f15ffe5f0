/// Loss and gradient as functions of p_t, the probability of the true class: the data behind the seed
/// tutorial's loss table and Figure 1 of Lin et al. 2017 (arXiv:1708.02002).
module Analysis.LossCurves

open System
open TorchSharp
open type TorchSharp.torch
open FocalLoss

/// One point of a loss curve for a positive sample (target 1) whose probability is p_t.
type LossPoint =
    { /// Probability of the true class, in (0, 1).
      PT: float
      /// Focusing parameter.
      Gamma: float
      /// Positive-class weight, None for no weighting.
      Alpha: float option
      /// Plain cross-entropy -log p_t.
      CrossEntropy: float
      /// Focal loss alpha_t (1 - p_t)^gamma CE.
      Focal: float
      /// d focal / d logit.
      Gradient: float }

/// Logit whose sigmoid is p (p in (0, 1)).
let logit (p: float) = Math.Log p - Math.Log(1.0 - p)

/// Evaluates the workbench's sigmoid focal loss (float64, reduction none) and its gradient at each p_t
/// for each gamma. Rejects p_t outside (0, 1) and gamma the loss rejects.
let curve (alpha: float option) (gammas: float list) (pts: float list) : LossPoint list =
    TorchRuntime.EnsureLoaded() |> ignore
    for pt in pts do
        if not (pt > 0.0 && pt < 1.0) then
            invalidArg (nameof pts) (sprintf "every p_t must lie in (0, 1), got %g" pt)
    let alphaArg = match alpha with Some a -> Nullable a | None -> Nullable()
    [ for gamma in gammas do
        use scope = NewDisposeScope()
        let x = tensor(pts |> List.map logit |> Array.ofList, dtype = ScalarType.Float64).requires_grad_(true)
        let t = ones_like(x)
        let loss = Functional.sigmoid_focal_loss(x, t, alphaArg, gamma, reduction = nn.Reduction.None)
        loss.sum().backward()
        let values = loss.detach().data<float>().ToArray()
        let grads = (nonNull x.grad).data<float>().ToArray()
        for i, pt in List.indexed pts ->
            { PT = pt; Gamma = gamma; Alpha = alpha; CrossEntropy = -Math.Log pt; Focal = values[i]; Gradient = grads[i] } ]

/// A fixed-width text table: one row per p_t, CE then one column per gamma.
let formatTable (points: LossPoint list) =
    let gammas = points |> List.map _.Gamma |> List.distinct
    let header = "p_t     CE        " + (gammas |> List.map (sprintf "FL g=%-6g ") |> String.concat "")
    let rows =
        points
        |> List.groupBy _.PT
        |> List.map (fun (pt, row) ->
            sprintf "%-7.3f %-9.4g " pt (List.head row).CrossEntropy
            + (row |> List.map (fun p -> sprintf "%-11.4g " p.Focal) |> String.concat ""))
    String.concat Environment.NewLine (header :: rows)
