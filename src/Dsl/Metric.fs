namespace Dsl

open Dsl.Engine

/// A metric accumulated over an epoch: each batch adds (sum, count), and `Finish` turns the totals into
/// the value (a mean for most metrics, the root of the mean for RMSE).
type Metric = {
    Name: string
    Batch: Value -> Value -> float * float
    Finish: float -> float -> float
    /// Checks, before training, that model outputs and targets of these per-sample shapes suit the metric.
    Check: Shape -> Shape -> unit
}

/// The metrics. Models output logits: `accuracy` takes the arg-max, `binaryAccuracy` thresholds logits at 0
/// (probability 0.5).
module Metric =
    let private mean (s: float) (n: float) = if n = 0.0 then nan else s / n

    let private classes (name: string) (minClasses: int64) (s: Shape) (target: Shape) =
        match s with
        | Shape.Dims [ c ] when c >= minClasses ->
            if target <> Shape.Dims [] then invalidArg "metrics" (sprintf "%s needs one class label per sample, but the targets have per-sample shape %O" name target)
        | _ -> invalidArg "metrics" (sprintf "%s needs class scores of shape (None, classes ≥ %d) but the model outputs %O" name minClasses s)

    let private sameSize (name: string) (s: Shape) (target: Shape) =
        match s, target with
        | Shape.Dims a, Shape.Dims b when List.fold (*) 1L a = List.fold (*) 1L b -> ()
        | _ -> invalidArg "metrics" (sprintf "%s compares outputs and targets element by element, but the model outputs %O and the targets are %O" name s target)

    /// Fraction of samples whose arg-max class equals the int64 label.
    let accuracy: Metric = {
        Name = "accuracy"
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let p, t = Value.tensor p, Value.tensor t
                float ((p.Argmax(-1L).Eq(t)).Sum().ToInt64()), float (t.Numel)
        Finish = mean
        Check = classes "accuracy" 2L
    }

    /// Fraction of samples whose label is among the k highest scores.
    let topK (k: int) : Metric = {
        Name = sprintf "top%d_accuracy" k
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let p, t = Value.tensor p, Value.tensor t
                let struct (_, idx) = p.TopK(int64 k, -1L)
                float (idx.Eq(t.Unsqueeze(-1L)).Any([| -1L |]).Sum().ToInt64()), float t.Numel
        Finish = mean
        Check = classes (sprintf "top%d_accuracy" k) (int64 k)
    }

    /// Fraction of binary predictions (logit > 0) that match targets (≥ 0.5), for one-logit outputs.
    let binaryAccuracy: Metric = {
        Name = "binary_accuracy"
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let p, t = Value.tensor p, Value.tensor t
                let pred = p.Gt(0.0)
                let truth = t.To(DType.Float32).Reshape(pred.Shape).Ge(0.5)
                float (pred.Eq(truth).Sum().ToInt64()), float pred.Numel
        Finish = mean
        Check =
            fun s _ ->
                match s with
                | Shape.Dims [ 1L ]
                | Shape.Dims [] -> ()
                | _ -> invalidArg "metrics" (sprintf "binary_accuracy needs one logit per sample, (None, 1), but the model outputs %O; use accuracy for class scores" s)
    }

    let private elementwise (name: string) (finish: float -> float -> float) (f: Tensor -> Tensor -> Tensor) : Metric = {
        Name = name
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let p, t = Value.tensor p, Value.tensor t
                let e = f p (t.To(p.DType).Reshape(p.Shape))
                e.Sum().ToDouble(), float e.Numel
        Finish = finish
        Check = sameSize name
    }

    /// Root mean squared error.
    let rmse: Metric = elementwise "rmse" (fun s n -> sqrt (mean s n)) (fun p t -> (p - t).Square())
    /// Mean absolute error.
    let mae: Metric = elementwise "mae" mean (fun p t -> (p - t).Abs())

    /// A user metric from a plain function of (predictions, targets) returning one value per sample; its epoch value is the mean.
    let ofFunction (name: string) (f: Tensor -> Tensor -> Tensor) : Metric = {
        Name = name
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let v = f (Value.tensor p) (Value.tensor t)
                v.Sum().ToDouble(), float v.Numel
        Finish = mean
        Check = fun _ _ -> ()
    }

    /// A user metric over whole values (for multi-head models), one value per sample.
    let ofValues (name: string) (f: Value -> Value -> Tensor) : Metric = {
        Name = name
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let v = f p t
                v.Sum().ToDouble(), float v.Numel
        Finish = mean
        Check = fun _ _ -> ()
    }

    /// A metric applied to one head of a multi-head model; its name gets the head's name as prefix.
    let onHead (head: string) (m: Metric) : Metric = {
        Name = head + "_" + m.Name
        Batch = fun p t -> m.Batch (Value.head head p) (Value.head head t)
        Finish = m.Finish
        Check =
            fun s t ->
                match s, t with
                | Shape.Heads hs, Shape.Heads ts ->
                    match List.tryFind (fst >> (=) head) hs, List.tryFind (fst >> (=) head) ts with
                    | Some(_, h), Some(_, th) -> m.Check h th
                    | None, _ -> invalidArg "metrics" (sprintf "%s: the model has no head '%s'" m.Name head)
                    | _, None -> invalidArg "metrics" (sprintf "%s: the targets have no head '%s'" m.Name head)
                | s, _ -> invalidArg "metrics" (sprintf "%s: the model has a single output %O, not heads" m.Name s)
    }

    /// The confusion matrix (rows: true class, columns: predicted class) of arg-max predictions.
    let confusionMatrix (classes: int) (predictions: Tensor) (labels: Tensor) : int64[,] =
        use _ = DisposeScope.Enter()
        let pred = predictions.Argmax(-1L)
        let index = labels.To(DType.Int64) * int64 classes + pred
        let counts = Torch.Zeros([| int64 (classes * classes) |], DType.Int64).ScatterAdd(0L, index, Torch.Ones(index.Shape, DType.Int64))
        let flat = counts.ToArray<int64>()
        Array2D.init classes classes (fun i j -> flat.[i * classes + j])
