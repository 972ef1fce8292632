namespace Dsl

open System
open Dsl.Engine

/// One classified sample: its true class, the predicted class (the most probable) and that class's
/// softmax probability.
type Predicted = { Actual: int; Predicted: int; Probability: float }

/// A confusion matrix: `Counts.[t, p]` samples of true class t were predicted as class p; `Classes` names
/// the rows and columns in order.
type Confusion = {
    Classes: string list
    Counts: int64[,]
} with

    /// Every sample counted.
    member this.Total = Seq.cast<int64> this.Counts |> Seq.sum

    /// The share of samples on the diagonal (the accuracy).
    member this.Accuracy =
        let n = this.Classes.Length
        float (Seq.sum [ for i in 0 .. n - 1 -> this.Counts.[i, i] ]) / float (max 1L this.Total)

    /// Row-normalised shares: the fraction of true class t predicted as p (0 for a class with no samples).
    member this.Shares: float[,] =
        let n = this.Classes.Length
        Array2D.init n n (fun t p ->
            let row = Seq.sum [ for j in 0 .. n - 1 -> this.Counts.[t, j] ]
            if row = 0L then 0.0 else float this.Counts.[t, p] / float row)

    /// The `k` most-confused pairs (true, predicted, count, share of the true class), largest count first,
    /// off the diagonal and non-zero only.
    member this.MostConfused(k: int) : (string * string * int64 * float) list =
        let n = this.Classes.Length
        let shares = this.Shares
        [
            for t in 0 .. n - 1 do
                for p in 0 .. n - 1 do
                    if t <> p && this.Counts.[t, p] > 0L then yield this.Classes.[t], this.Classes.[p], this.Counts.[t, p], shares.[t, p]
        ]
        |> List.sortByDescending (fun (_, _, c, _) -> c)
        |> List.truncate k

/// Predictions of classifiers and their confusion matrices.
module Confusion =
    /// A confusion matrix from its class names and counts [true, predicted]; the names must match the matrix.
    let create (classes: string list) (counts: int64[,]) : Confusion =
        let r, c = Array2D.length1 counts, Array2D.length2 counts
        if r <> c then invalidArg "counts" (sprintf "Confusion.create: the matrix is %d×%d; a confusion matrix is square (true × predicted classes)" r c)
        if classes.Length <> r then invalidArg "classes" (sprintf "Confusion.create: %d class names for a %d×%d matrix; give one name per row and column" classes.Length r r)
        if r = 0 then invalidArg "counts" "Confusion.create: the matrix is empty; it needs at least one class"
        if Seq.cast<int64> counts |> Seq.exists (fun v -> v < 0L) then invalidArg "counts" "Confusion.create: counts must be ≥ 0"
        { Classes = classes; Counts = Array2D.copy counts }

    /// Counts predictions against their true classes; every class index must lie in [0, classes).
    let ofPredictions (classes: string list) (predictions: Predicted seq) : Confusion =
        let n = classes.Length
        if n = 0 then invalidArg "classes" "Confusion.ofPredictions: no class names; give one per class"
        let counts = Array2D.zeroCreate<int64> n n
        for p in predictions do
            if p.Actual < 0 || p.Actual >= n || p.Predicted < 0 || p.Predicted >= n then
                invalidArg
                    "predictions"
                    (sprintf "Confusion.ofPredictions: a sample of class %d predicted as %d, but there are %d classes (indices lie in [0, %d))" p.Actual p.Predicted n n)
            counts.[p.Actual, p.Predicted] <- counts.[p.Actual, p.Predicted] + 1L
        { Classes = classes; Counts = counts }

/// The predictions of a classifier (a model with one score per class) on labelled samples.
module Predictions =
    /// Each sample's true class, predicted class and probability, from logits [N, C] and labels [N] (int64);
    /// the tensors are read, not kept.
    let ofLogits (logits: Tensor) (labels: Tensor) : Predicted list =
        use _ = DisposeScope.Enter()
        if logits.Dim <> 2 then invalidArg "logits" (sprintf "Predictions.ofLogits: logits must be [N, classes], got [%s]" (String.Join(", ", logits.Shape)))
        if labels.Dim <> 1 || labels.Size 0 <> logits.Size 0 then
            invalidArg
                "labels"
                (sprintf
                    "Predictions.ofLogits: labels must be [%d] to match logits [%s], got [%s]"
                    (logits.Size 0)
                    (String.Join(", ", logits.Shape))
                    (String.Join(", ", labels.Shape)))
        let probs = Functional.Softmax(logits.To(DType.Float32), -1L)
        let struct (best, index) = probs.Max(-1L, false)
        let p, i, y = best.ToArray<float32>(), index.ToArray<int64>(), labels.To(DType.Int64).ToArray<int64>()
        [ for s in 0 .. p.Length - 1 -> { Actual = int y.[s]; Predicted = int i.[s]; Probability = float p.[s] } ]

    /// The model's predictions on inputs `x` with labels `y` (int64), in Eval mode, by batches of 256.
    let ofModel (model: Model) (x: Tensor) (y: Tensor) : Predicted list =
        use _ = DisposeScope.Enter()
        use _ = Autograd.NoGrad()
        let n = x.Size 0
        [
            let mutable start = 0L
            while start < n do
                let len = min 256L (n - start)
                use _ = DisposeScope.Enter()
                yield! ofLogits (Model.forward model (x.Narrow(0L, start, len))) (y.Narrow(0L, start, len))
                start <- start + len
        ]
