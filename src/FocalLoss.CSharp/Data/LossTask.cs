namespace FocalLoss.Data;

/// <summary>
/// The kind of prediction a dataset asks for, and so the losses and metrics that fit it. A dataset's task
/// follows from its labels (<see cref="TensorDataset.Task"/>), never from its name.
/// </summary>
public enum LossTask
{
    /// <summary>One output per sample (or per element), 0/1 targets of the same shape.</summary>
    Binary,
    /// <summary>C outputs per sample along dim 1, Int64 class-index targets.</summary>
    MultiClass,
    /// <summary>C independent binary labels per sample: [N, C] float 0/1 targets of the same shape as the logits.</summary>
    MultiLabel,
}
