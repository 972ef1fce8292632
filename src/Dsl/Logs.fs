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

/// What `evaluate` returns: the loss and every metric, by name and in the order they were computed (the loss
/// first). Index it by name: `results.["accuracy"]`.
type Evaluation = {
    /// (name, value) pairs, loss first.
    Values: (string * float) list
} with

    /// The names, in order.
    member this.Names = this.Values |> List.map fst

    /// The value of a metric, if it was computed.
    member this.TryGet(name: string) = this.Values |> List.tryFind (fst >> (=) name) |> Option.map snd

    /// The value of a metric by name; fails naming the metrics that were computed.
    member this.Item
        with get (name: string) =
            match this.TryGet name with
            | Some v -> v
            | None ->
                raise (
                    System.Collections.Generic.KeyNotFoundException(
                        sprintf "Evaluation: no metric '%s'; the evaluation holds %s. Add it to FitOptions.Metrics to compute it." name (String.concat ", " this.Names)
                    )
                )

    /// "loss 0.3012, accuracy 0.8913".
    override this.ToString() = this.Values |> List.map (fun (n, v) -> sprintf "%s %.4f" n v) |> String.concat ", "
