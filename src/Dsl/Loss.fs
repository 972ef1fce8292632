namespace Dsl

open Dsl.Engine

/// A loss: a name and a function of (predictions, targets) to a scalar tensor. Classification losses
/// can take class weights (PyTorch semantics: a weighted mean over the batch).
type Loss = {
    Name: string
    Compute: Value -> Value -> Tensor
    /// The same loss with per-class weights, when the loss supports them.
    WithClassWeights: (Tensor -> Loss) option
    /// Checks, before training, that predictions of this per-sample shape and these targets (all of them when they
    /// are in memory, a first batch of a data set otherwise) fit the loss: shapes and, where the loss needs it, values.
    Check: Shape -> Value -> unit
    /// The outputs that the loss reads as logits (it applies softmax or sigmoid itself): None for a single-output
    /// model, Some head for a head of a multi-head one. `fit` warns when such an output ends in softmax or sigmoid.
    Logits: string option list
}

/// The losses, each as PyTorch defines it (mean reduction).
module Loss =
    let private dims (s: Shape) =
        match s with
        | Shape.Dims d -> Some d
        | Shape.Heads _ -> None

    /// The fix for a single-output loss given to a multi-head model; `name` is the loss's F# name (crossEntropy).
    let private perHeadHint (name: string) (heads: (string * Shape) list) =
        sprintf
            "the model has heads %s, so each head needs its own loss: Loss.perHead [ %s ] (the weights scale each head's loss)"
            (String.concat ", " [ for (h, s) in heads -> sprintf "%s %O" h s ])
            (String.concat "; " [ for (h, _) in heads -> sprintf "\"%s\", Loss.%s, 1.0" h name ])

    /// The F# name of a loss by its logged name.
    let private fsName (name: string) =
        match name with
        | "binary_cross_entropy" -> "binaryCrossEntropy"
        | "huber" -> "huber 1.0"
        | n -> n

    /// Element-wise losses need targets of the predictions' shape: PyTorch broadcasts [N, 1] predictions against
    /// [N] targets to [N, N] (a silently wrong loss), so Dsl refuses any difference but one, documented: a trailing
    /// size-1 dimension on one side ([N, 1] against [N]) is taken as the same shape.
    let private sameElements (name: string) (p: Shape) (t: Shape) =
        match dims p, dims t with
        | Some a, Some b when a = b || a = b @ [ 1L ] || b = a @ [ 1L ] -> ()
        | None, _ ->
            match p with
            | Shape.Heads hs -> invalidArg "loss" (sprintf "%s: %s" name (perHeadHint (fsName name) hs))
            | _ -> ()
        | _ ->
            invalidArg
                "targets"
                (sprintf
                    "%s compares predictions and targets element by element, but the model outputs %O and the targets are %O; they would broadcast instead of pairing up. Give the targets the model's output shape (reshape them), or choose a loss for this output."
                    name
                    p
                    t)

    /// The targets of a batch as the predictions' shape (the one trailing size-1 difference), or the error.
    let private aligned (name: string) (p: Tensor) (t: Tensor) : Tensor =
        let ps, ts = p.Shape, t.Shape
        if ps = ts then
            t
        elif ps.Length = ts.Length + 1 && ps.[ps.Length - 1] = 1L && ps.[.. ps.Length - 2] = ts then
            t.Unsqueeze(-1L)
        elif ts.Length = ps.Length + 1 && ts.[ts.Length - 1] = 1L && ts.[.. ts.Length - 2] = ps then
            t.Squeeze(-1L)
        else
            invalidArg
                "targets"
                (sprintf
                    "%s: predictions of shape [%s] and targets of shape [%s] do not pair up element by element (they would broadcast). Give the targets the predictions' shape."
                    name
                    (String.concat ", " (Array.map string ps))
                    (String.concat ", " (Array.map string ts)))

    let private elementwise (name: string) (checkValues: Tensor -> unit) (f: Tensor -> Tensor -> Tensor) : Loss = {
        Name = name
        Compute = (fun p t -> let p = Value.tensor p in f p ((aligned name p (Value.tensor t)).To(p.DType)))
        WithClassWeights = None
        Check =
            fun s t ->
                sameElements name s (Value.shape t)
                checkValues (Value.tensor t)
        Logits = []
    }

    let private anyValues (_: Tensor) = ()

    /// Binary targets are probabilities: a label 2 for a one-logit model is an error, not a target to overshoot.
    let private unitInterval (t: Tensor) =
        use _ = DisposeScope.Enter()
        let f = t.To(DType.Float64)
        let lo, hi = f.Min().ToDouble(), f.Max().ToDouble()
        if not (lo >= 0.0 && hi <= 1.0) then
            invalidArg
                "targets"
                (sprintf
                    "binary_cross_entropy needs targets in [0, 1] (the probability of class 1), but they range over [%g, %g]. For labels of more than two classes use crossEntropy with one logit per class."
                    lo
                    hi)

    let rec private crossEntropyImpl (weights: Tensor option) (smoothing: float) : Loss = {
        Name = "cross_entropy"
        Compute = fun p t -> Functional.CrossEntropy(Value.tensor p, Value.tensor t, Option.toObj weights, labelSmoothing = smoothing)
        WithClassWeights = Some(fun w -> crossEntropyImpl (Some w) smoothing)
        Check =
            fun s target ->
                match s, target with
                | Shape.Heads hs, _ -> invalidArg "loss" (sprintf "cross_entropy: %s" (perHeadHint "crossEntropy" hs))
                | Shape.Dims(c :: rest), Value.T t when List.tail (List.ofArray t.Shape) = rest ->
                    if t.DType.IsFloating() then
                        invalidArg
                            "targets"
                            (sprintf
                                "cross_entropy needs int64 class labels, one per sample, but the targets are %s. Fix: y.To(DType.Int64) (class indices in [0, %d)); for soft labels give class probabilities of the model's output shape (None, %d)."
                                (t.DType.Name())
                                c
                                c)
                | Shape.Dims(c :: rest), Value.T t when List.tail (List.ofArray t.Shape) = c :: rest ->
                    if not (t.DType.IsFloating()) then
                        invalidArg
                            "targets"
                            (sprintf
                                "cross_entropy reads targets of the output's shape (None, %d) as class probabilities, which are floating point, but these are %s (one-hot labels?). Fix: give the labels, y.Argmax(-1L), or y.To(DType.Float32)."
                                c
                                (t.DType.Name()))
                | Shape.Dims(_ :: _), t ->
                    invalidArg
                        "targets"
                        (sprintf
                            "cross_entropy pairs class scores %O with one class label per sample (or class probabilities of the same shape), but the targets are %O"
                            s
                            (Value.shape t))
                | _ -> invalidArg "loss" (sprintf "cross_entropy needs class logits (None, classes), got %O" s)
        Logits = [ None ]
    }

    /// Cross-entropy of logits against int64 class labels (softmax included, as PyTorch's; do not end the model with softmax).
    let crossEntropy: Loss = crossEntropyImpl None 0.0
    /// Cross-entropy with label smoothing.
    let crossEntropySmoothed (smoothing: float) : Loss = crossEntropyImpl None smoothing
    /// Binary cross-entropy on logits (sigmoid included) against targets in [0, 1] of the predictions' shape.
    let binaryCrossEntropy: Loss = { elementwise "binary_cross_entropy" unitInterval (fun p t -> Functional.BinaryCrossEntropyWithLogits(p, t)) with Logits = [ None ] }
    /// Mean squared error (targets of the predictions' shape).
    let mse: Loss = elementwise "mse" anyValues (fun p t -> Functional.MseLoss(p, t))
    /// Mean absolute error (targets of the predictions' shape).
    let mae: Loss = elementwise "mae" anyValues (fun p t -> Functional.L1Loss(p, t))
    /// Huber loss with threshold delta (targets of the predictions' shape).
    let huber (delta: float) : Loss = elementwise "huber" anyValues (fun p t -> Functional.HuberLoss(p, t, delta = delta))

    /// A weighted sum of per-head losses for multi-head models: `perHead [ "hour", crossEntropy, 6.0; "minute", crossEntropy, 4.0 ]`.
    let perHead (heads: (string * Loss * float) list) : Loss = {
        Name = "loss"
        Compute = fun p t -> heads |> List.map (fun (h, l, w) -> l.Compute (Value.head h p) (Value.head h t) * w) |> List.reduce (+)
        WithClassWeights = None
        Check =
            fun s target ->
                match s, target with
                | Shape.Heads hs, Value.Heads ts ->
                    for (h, l, _) in heads do
                        match List.tryFind (fst >> (=) h) hs, List.tryFind (fst >> (=) h) ts with
                        | Some(_, sh), Some(_, th) -> l.Check sh th
                        | None, _ -> invalidArg "loss" (sprintf "perHead: the model has no head '%s' (heads: %A)" h (List.map fst hs))
                        | _, None ->
                            invalidArg "targets" (sprintf "perHead: the targets have no head '%s' (targets: %A); give Value.Heads with the model's head names" h (List.map fst ts))
                | Shape.Heads hs, t ->
                    invalidArg
                        "targets"
                        (sprintf
                            "perHead: the model has heads %s, so the targets need one tensor per head, but they are a single tensor of shape %O. Fix: Value.Heads [ %s ], with the head names of the model."
                            (String.concat ", " [ for (h, sh) in hs -> sprintf "%s %O" h sh ])
                            (match t with
                             | Value.T x -> "(" + String.concat ", " (Array.map string x.Shape) + ")"
                             | _ -> string (Value.shape t))
                            (String.concat "; " [ for (h, _) in hs -> sprintf "\"%s\", Value.T y%s" h h ]))
                | s, _ -> invalidArg "loss" (sprintf "perHead losses need a multi-head model (fanOut), but the model has a single output %O; use the head's loss alone" s)
        Logits = heads |> List.filter (fun (_, l, _) -> List.contains None l.Logits) |> List.map (fun (h, _, _) -> Some h)
    }

    /// A circular loss for positions on a circle of `period` units (a clock hand, a time of day: `circular 60.0` for
    /// minutes, `circular 720.0` for minutes since 12:00). The predictions are 2-vectors, [N, 2], whose direction is
    /// the angle (x the sine, y the cosine: angle 0 points along +y as 12 o'clock does; the length is free); the
    /// targets are the positions, [N] (any numeric dtype, θ = 2π·target/period). The loss is the mean of 1 − cos(θ̂ − θ)
    /// with θ̂ = atan2(x, y): 0 in the right direction, 2 in the opposite one, about δ²/2 for a small error δ, and
    /// without the jump between 59 and 0 that classes and plain regression have. It is PyTorch's
    /// `cosine_embedding_loss` of the predictions against (sin θ, cos θ) with target 1 (the same 1e-12 in the norms).
    let circular (period: float) : Loss =
        if not (period > 0.0 && System.Double.IsFinite period) then
            invalidArg "period" (sprintf "Loss.circular: the period is %g; it must be positive and finite (60.0 for minutes, 720.0 for a 12-hour dial)" period)
        let name = "circular"
        {
            Name = name
            Compute =
                fun p t ->
                    let p, t = Value.tensor p, Value.tensor t
                    if p.Dim <> 2 || p.Size 1 <> 2L || t.Dim <> 1 || t.Size 0 <> p.Size 0 then
                        invalidArg
                            "predictions"
                            (sprintf
                                "Loss.circular: predictions [%s] and targets [%s]; it needs predictions [N, 2] (sine, cosine) and targets [N] (positions on the period %g)"
                                (String.concat ", " (Array.map string p.Shape))
                                (String.concat ", " (Array.map string t.Shape))
                                period)
                    let theta = t.To(p.DType) * (2.0 * System.Math.PI / period)
                    let u = Torch.Stack([| theta.Sin(); theta.Cos() |], 1L)
                    let dot = (p * u).Sum([| 1L |])
                    let norms = ((p * p).Sum([| 1L |]) + 1e-12) * ((u * u).Sum([| 1L |]) + 1e-12)
                    (1.0 - dot / norms.Sqrt()).Mean()
            WithClassWeights = None
            Check =
                fun s t ->
                    match s, Value.shape t with
                    | Shape.Dims [ 2L ], Shape.Dims [] -> ()
                    | Shape.Heads hs, _ -> invalidArg "loss" (sprintf "%s: %s" name (perHeadHint (sprintf "circular %g" period) hs))
                    | _, ts ->
                        invalidArg
                            "targets"
                            (sprintf
                                "Loss.circular needs an output of 2 values per sample, (None, 2): the sine and cosine of the angle, and one target per sample (a position on the period %g), but the model outputs %O and the targets are %O"
                                period
                                s
                                ts)
            Logits = []
        }

    /// The position on a circle of `period` units that 2-vector predictions [N, 2] (sine, cosine, as `circular` reads
    /// them) point to: [N] floats in [0, period).
    let circularPosition (period: float) (predictions: Tensor) : Tensor =
        use scope = DisposeScope.Enter()
        let angle = predictions.Select(1L, 0L).Atan2(predictions.Select(1L, 1L))
        let turns = (angle / (2.0 * System.Math.PI) + 1.0).Remainder(1.0)
        scope.MoveOut(turns * period)
