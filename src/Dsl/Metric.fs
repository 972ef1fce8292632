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

    /// The common-sense error between two times h:m on a 12-hour dial, in minutes: the difference taken the short way
    /// round the 720 minutes of the dial (3:59 vs 4:01 → 2, 11:59 vs 0:01 → 2; 12 ≡ 0). Symmetric, at most 360, and 0
    /// exactly when the times are equal modulo 720 minutes.
    let commonSenseMinutes (hour1: int) (minute1: int) (hour2: int) (minute2: int) : int =
        let t1, t2 = ((hour1 % 12 + 12) % 12) * 60 + minute1, ((hour2 % 12 + 12) % 12) * 60 + minute2
        let d = ((t1 - t2) % 720 + 720) % 720
        min d (720 - d)

    /// `commonSenseMinutes` of whole batches: int64 [N] from hour and minute tensors [N] (any integer dtype).
    let commonSenseMinutesOf (hours1: Tensor) (minutes1: Tensor) (hours2: Tensor) (minutes2: Tensor) : Tensor = Dsl.Data.Clocks.CommonSenseError(hours1, minutes1, hours2, minutes2)

    /// The mean common-sense error in minutes ("common_sense_error"), reading an (hour, minute) pair of int64 [N]
    /// tensors from the predictions with `readPrediction` and from the targets with `readTarget`: any output form
    /// (two class heads, 720 classes, regression or circular heads) with its own reader.
    let commonSenseErrorWith (readPrediction: Value -> Tensor * Tensor) (readTarget: Value -> Tensor * Tensor) : Metric = {
        Name = "common_sense_error"
        Batch =
            fun p t ->
                use _ = DisposeScope.Enter()
                let hp, mp = readPrediction p
                let ht, mt = readTarget t
                if hp.Shape <> ht.Shape || mp.Shape <> mt.Shape || hp.Shape <> mp.Shape then
                    invalidArg
                        "predictions"
                        (sprintf
                            "common_sense_error: the readers gave hours [%s] and minutes [%s] from the predictions but [%s] and [%s] from the targets; each must give one value per sample"
                            (String.concat ", " (Array.map string hp.Shape))
                            (String.concat ", " (Array.map string mp.Shape))
                            (String.concat ", " (Array.map string ht.Shape))
                            (String.concat ", " (Array.map string mt.Shape)))
                let e = commonSenseMinutesOf hp mp ht mt
                float (e.Sum().ToInt64()), float e.Numel
        Finish = mean
        Check = fun _ _ -> ()
    }

    /// The mean common-sense error of a model with heads "hour" (12 class logits) and "minute" (60 class logits),
    /// against targets `Value.Heads [ "hour", hours; "minute", minutes ]` of int64 labels: each head's arg-max is its reading.
    let commonSenseError: Metric =
        let labels (v: Value) = (Value.tensor (Value.head "hour" v)).To(DType.Int64), (Value.tensor (Value.head "minute" v)).To(DType.Int64)
        let argmax (v: Value) = (Value.tensor (Value.head "hour" v)).Argmax(-1L), (Value.tensor (Value.head "minute" v)).Argmax(-1L)
        {
            commonSenseErrorWith argmax labels with
                Check =
                    fun s t ->
                        for head, n in [ "hour", 12L; "minute", 60L ] do
                            match s, t with
                            | Shape.Heads hs, Shape.Heads ts ->
                                match List.tryFind (fst >> (=) head) hs, List.tryFind (fst >> (=) head) ts with
                                | Some(_, Shape.Dims [ c ]), Some(_, th) when c = n ->
                                    if th <> Shape.Dims [] then
                                        invalidArg
                                            "metrics"
                                            (sprintf "common_sense_error needs one %s label per sample, but the targets' %s head has per-sample shape %O" head head th)
                                | Some(_, h), Some _ ->
                                    invalidArg "metrics" (sprintf "common_sense_error: the %s head must give %d class logits, (None, %d), but gives %O" head n n h)
                                | None, _ ->
                                    invalidArg "metrics" (sprintf "common_sense_error: the model has no head '%s' (it reads heads hour, 12 classes, and minute, 60 classes)" head)
                                | _, None ->
                                    invalidArg
                                        "metrics"
                                        (sprintf "common_sense_error: the targets have no head '%s'; give Value.Heads [ \"hour\", hours; \"minute\", minutes ]" head)
                            | _ ->
                                invalidArg
                                    "metrics"
                                    (sprintf
                                        "common_sense_error reads heads hour (12 classes) and minute (60 classes), but the model outputs %O; for other outputs use Metric.commonSenseErrorWith with readers"
                                        s)
        }

    /// The confusion matrix (rows: true class, columns: predicted class) of arg-max predictions.
    let confusionMatrix (classes: int) (predictions: Tensor) (labels: Tensor) : int64[,] =
        use _ = DisposeScope.Enter()
        let pred = predictions.Argmax(-1L)
        let index = labels.To(DType.Int64) * int64 classes + pred
        let counts = Torch.Zeros([| int64 (classes * classes) |], DType.Int64).ScatterAdd(0L, index, Torch.Ones(index.Shape, DType.Int64))
        let flat = counts.ToArray<int64>()
        Array2D.init classes classes (fun i j -> flat.[i * classes + j])
