namespace Dsl

open Dsl.Engine

/// A loss: a name and a function of (predictions, targets) to a scalar tensor. Classification losses
/// can take class weights (PyTorch semantics: a weighted mean over the batch).
type Loss = {
    Name: string
    Compute: Value -> Value -> Tensor
    /// The same loss with per-class weights, when the loss supports them.
    WithClassWeights: (Tensor -> Loss) option
    /// Checks that predictions of this per-sample shape fit the loss (called before training).
    Check: Shape -> unit
}

/// The losses, each as PyTorch defines it (mean reduction).
module Loss =
    let private single (name: string) (f: Tensor -> Tensor -> Tensor) (check: Shape -> unit) : Loss = {
        Name = name
        Compute = (fun p t -> f (Value.tensor p) (Value.tensor t))
        WithClassWeights = None
        Check = check
    }

    let private anyShape (_: Shape) = ()

    let rec private crossEntropyImpl (weights: Tensor option) (smoothing: float) : Loss = {
        Name = "cross_entropy"
        Compute = fun p t -> Functional.CrossEntropy(Value.tensor p, Value.tensor t, Option.toObj weights, labelSmoothing = smoothing)
        WithClassWeights = Some(fun w -> crossEntropyImpl (Some w) smoothing)
        Check =
            fun s ->
                match s with
                | Shape.Dims [ _ ]
                | Shape.Dims(_ :: _ :: _) -> ()
                | _ -> invalidArg "loss" (sprintf "cross_entropy needs class logits (None, classes), got %O" s)
    }

    /// Cross-entropy of logits against int64 class labels (softmax included, as PyTorch's; do not end the model with softmax).
    let crossEntropy: Loss = crossEntropyImpl None 0.0
    /// Cross-entropy with label smoothing.
    let crossEntropySmoothed (smoothing: float) : Loss = crossEntropyImpl None smoothing
    /// Binary cross-entropy on logits (sigmoid included) against float targets in [0, 1].
    let binaryCrossEntropy: Loss = single "binary_cross_entropy" (fun p t -> Functional.BinaryCrossEntropyWithLogits(p, t.To(p.DType))) anyShape
    /// Mean squared error.
    let mse: Loss = single "mse" (fun p t -> Functional.MseLoss(p, t.To(p.DType))) anyShape
    /// Mean absolute error.
    let mae: Loss = single "mae" (fun p t -> Functional.L1Loss(p, t.To(p.DType))) anyShape
    /// Huber loss with threshold delta.
    let huber (delta: float) : Loss = single "huber" (fun p t -> Functional.HuberLoss(p, t.To(p.DType), delta = delta)) anyShape

    /// A weighted sum of per-head losses for multi-head models: `perHead [ "hour", crossEntropy, 6.0; "minute", crossEntropy, 4.0 ]`.
    let perHead (heads: (string * Loss * float) list) : Loss = {
        Name = "loss"
        Compute = fun p t -> heads |> List.map (fun (h, l, w) -> l.Compute (Value.head h p) (Value.head h t) * w) |> List.reduce (+)
        WithClassWeights = None
        Check =
            fun s ->
                match s with
                | Shape.Heads hs ->
                    for (h, l, _) in heads do
                        match List.tryFind (fst >> (=) h) hs with
                        | Some(_, hsAnother) -> l.Check hsAnother
                        | None -> invalidArg "loss" (sprintf "perHead: the model has no head '%s' (heads: %A)" h (List.map fst hs))
                | s -> invalidArg "loss" (sprintf "perHead losses need a multi-head model, got output %O" s)
    }
