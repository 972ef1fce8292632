namespace Dsl

/// One epoch's results: metric values by name (loss, accuracy, val_loss, val_accuracy, ...), its wall
/// time and its learning rate.
type EpochLogs = {
    Epoch: int
    Values: (string * float) list
    Seconds: float
    LearningRate: float
} with

    /// The value of a metric, if it was logged.
    member this.TryGet(name: string) = this.Values |> List.tryFind (fst >> (=) name) |> Option.map snd

/// One batch's logs, as Keras passes them to its batch hooks: the batch's index in the epoch (0-based), its
/// number of samples, and the loss and metrics so far — the running means over the epoch's batches up to
/// this one (training), or over the evaluation's batches so far (test); empty at a batch's beginning.
type BatchLogs = {
    Batch: int
    Size: int64
    Values: (string * float) list
} with

    /// The value of a metric, if it was logged.
    member this.TryGet(name: string) = this.Values |> List.tryFind (fst >> (=) name) |> Option.map snd
