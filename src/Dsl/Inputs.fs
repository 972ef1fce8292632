namespace Dsl

open System
open Dsl.Engine

/// The checks that `fit`, `evaluate` and `predict` make on their inputs before the first step, so that a
/// mistake fails at once with what the model expects, what it got, and the fix — instead of an index error
/// deep in a layer after minutes of loading: the per-sample shape and dtype of the inputs against
/// `model.Input`, the names that callbacks monitor against the names fit will log, the default metrics of
/// multi-head models, and (as warnings) softmax before a loss that takes logits.
module Inputs =
    let private shapeText (d: int64 seq) = "(" + String.Join(", ", d) + ")"

    let private dimsOf (model: Model) =
        match model.Input with
        | Shape.Dims d -> Some d
        | Shape.Heads _ -> None

    /// The layer that receives the inputs: the first leaf of the model's layer tree.
    let rec private firstLeaf (l: Layer) =
        match l.Sublayers with
        | [] -> l
        | (_, c) :: _ -> firstLeaf c

    /// The dtype the model computes in: that of its first floating-point parameter (float32 without any).
    let private computeType (model: Model) =
        Tree.leaves model.Params |> List.tryFind (fun t -> t.DType.IsFloating()) |> Option.map _.DType |> Option.defaultValue DType.Float32

    /// Why per-sample inputs of shape `got` do not fit a model built for `expected`, and the fix, for inputs
    /// `x` of the full shape `full`.
    let private diagnose (full: int64 list) (got: int64 list) (expected: int64 list) =
        let n = List.head full
        let product = List.fold (*) 1L
        let insertAt i = List.take i got @ [ 1L ] @ List.skip i got
        let missing = [ 0 .. got.Length ] |> List.tryFind (fun i -> got.Length + 1 = expected.Length && insertAt i = expected)
        match missing with
        | Some i ->
            let what = if i = 0 && expected.Length = 3 then "the channel dimension is missing" else sprintf "a size-1 dimension is missing at position %d" (i + 1)
            sprintf "%s. Fix: x.Unsqueeze(%dL) gives %s." (string (Char.ToUpperInvariant what.[0]) + what.Substring 1) (i + 1) (shapeText (n :: expected))
        | None when full = expected -> "x looks like one sample without its batch dimension. Fix: x.Unsqueeze(0L) makes a batch of one."
        | None ->
            match got, expected with
            | [ h; w; c ], [ c'; h'; w' ] when c = c' && h = h' && w = w' && c <> h ->
                "The images are channels-last (height, width, channels), as Keras and image files store them; Dsl is channels-first. Fix: x.Permute([| 0L; 3L; 1L; 2L |])."
            | [ c; h; w ], [ c'; h'; w' ] when c = c' ->
                sprintf
                    "The images are %d×%d but the model was built for %d×%d. Fix: resize them (Transform.Resize, or Functional.Interpolate on a batch), or build the model for these images: Model.build [ %s ]."
                    h
                    w
                    h'
                    w'
                    (String.concat "; " [ for d in got -> sprintf "%dL" d ])
            | _ when product got = product expected && got.Length <> expected.Length ->
                sprintf
                    "Each sample holds the %d values the model expects, in another shape. Fix: x.Reshape([| -1L; %s |])."
                    (product expected)
                    (String.concat "; " [ for d in expected -> sprintf "%dL" d ])
            | _ ->
                sprintf
                    "Fix: give x the per-sample shape %s, or build the model for these inputs: Model.build [ %s ]."
                    (shapeText expected)
                    (String.concat "; " [ for d in got -> sprintf "%dL" d ])

    /// Checks a batch of inputs against the model: the per-sample shape against `model.Input` and the dtype
    /// against the model's parameters (integer indices for a model that starts with an embedding). `op` names
    /// the caller in the message ("fit", "evaluate", "predict").
    let check (op: string) (model: Model) (x: Tensor) =
        x.ThrowIfDisposed op
        match dimsOf model with
        | None -> ()
        | Some expected ->
            let full = List.ofArray x.Shape
            if full.IsEmpty then invalidArg "x" (sprintf "%s: x is a scalar, but the model expects inputs of shape %O: a batch, samples first" op model.Input)
            let got = List.tail full
            if got <> expected then
                invalidArg
                    "x"
                    (sprintf
                        "%s: the inputs do not fit the model: expected shape=%O, found shape=%s (the model was built with Model.build [ %s ]). %s"
                        op
                        model.Input
                        (shapeText full)
                        (String.concat "; " [ for d in expected -> sprintf "%dL" d ])
                        (diagnose full got expected))
            let embeds = (firstLeaf model.Layer).Kind = "Embedding"
            let want = computeType model
            if embeds then
                if x.DType.IsFloating() then
                    invalidArg "x" (sprintf "%s: the model starts with an embedding, which looks up int64 indices, but x is %s. Fix: x.To(DType.Int64)." op (x.DType.Name()))
            elif not (x.DType.IsFloating()) then
                let fix =
                    if x.DType = DType.UInt8 then
                        sprintf "x.To(DType.%O) / 255.0 (uint8 inputs are usually pixels in 0–255; this scales them to [0, 1])" want
                    else
                        sprintf "x.To(DType.%O)" want
                invalidArg "x" (sprintf "%s: the model computes in %s, but x is %s. Fix: %s." op (want.Name()) (x.DType.Name()) fix)
            elif x.DType <> want then
                invalidArg
                    "x"
                    (sprintf
                        "%s: the model's parameters are %s, but x is %s. Fix: x.To(DType.%O), or build the model in %s (Model.buildWith { BuildOptions.Default with DType = DType.%O })."
                        op
                        (want.Name())
                        (x.DType.Name())
                        want
                        (x.DType.Name())
                        x.DType)

    /// Levenshtein distance, for "did you mean".
    let private distance (a: string) (b: string) =
        let d =
            Array2D.init (a.Length + 1) (b.Length + 1) (fun i j ->
                if i = 0 then j
                elif j = 0 then i
                else 0)
        for i in 1 .. a.Length do
            for j in 1 .. b.Length do
                let cost = if a.[i - 1] = b.[j - 1] then 0 else 1
                d.[i, j] <- min (min (d.[i - 1, j] + 1) (d.[i, j - 1] + 1)) (d.[i - 1, j - 1] + cost)
        d.[a.Length, b.Length]

    /// The known name nearest to `name`, when it is near enough to be a typo.
    let suggest (name: string) (known: string list) : string option =
        known
        |> List.map (fun k -> k, distance (name.ToLowerInvariant()) (k.ToLowerInvariant()))
        |> List.filter (fun (k, d) -> d <= max 2 (k.Length / 3))
        |> List.sortBy snd
        |> List.tryHead
        |> Option.map fst

    /// The names fit logs each epoch: the loss and the metrics, and each again with "val_" when there is validation data.
    let loggedNames (metrics: Metric list) (validation: bool) =
        let train = "loss" :: (metrics |> List.map _.Name)
        if validation then train @ (train |> List.map (fun n -> "val_" + n)) else train

    /// Checks every name a callback monitors against the names fit will log.
    let checkMonitors (callbacks: Callback list) (metrics: Metric list) (validation: bool) =
        let known = loggedNames metrics validation
        for c in callbacks do
            for m in c.Monitors do
                if not (List.contains m known) then
                    let hint =
                        match suggest m known with
                        | Some s -> sprintf " Did you mean '%s'?" s
                        | None when m.StartsWith "val_" && not validation ->
                            " There is no validation data: set ValidationSplit (Some 0.1, say) or ValidationData, or monitor a training metric."
                        | None when not (m.StartsWith "val_") && List.contains m (loggedNames metrics true) -> ""
                        | None -> " Add the metric to FitOptions.Metrics, or monitor one of those."
                    invalidArg "Callbacks" (sprintf "fit: %s monitors '%s', which fit does not log; it logs %s.%s" c.Name m (String.concat ", " known) hint)

    /// The metrics to compute for a model: as given, except that a metric of one output (accuracy, the default)
    /// given to a multi-head model is computed on each head it fits (`Metric.onHead`); the default accuracy on a
    /// model none of whose heads classifies is left out.
    let metricsFor (model: Model) (targets: Shape) (metrics: Metric list) : Metric list =
        let fits (m: Metric) (s: Shape) (t: Shape) =
            try
                m.Check s t
                true
            with :? ArgumentException ->
                false
        match model.Output, targets with
        | Shape.Heads hs, Shape.Heads ts ->
            metrics
            |> List.collect (fun m ->
                if fits m model.Output targets then
                    [ m ]
                else
                    let perHead =
                        hs
                        |> List.choose (fun (h, s) ->
                            match List.tryFind (fst >> (=) h) ts with
                            | Some(_, t) when fits m s t -> Some(Metric.onHead h m)
                            | _ -> None)
                    // The default accuracy fits no head of a regression model: nothing. Any other metric stays, so
                    // that the checks name what does not fit (a head that does not exist, say).
                    if perHead.IsEmpty && not (Object.ReferenceEquals(m, Metric.accuracy)) then [ m ] else perHead)
        | _ -> metrics

    /// The outputs of a layer and the leaf layers that make them: one for a chain, one per head for fanOut.
    let rec private terminals (l: Layer) : (string option * Layer) list =
        match l.Kind, l.Sublayers with
        | _, [] -> [ None, l ]
        | "FanOut", heads -> heads |> List.collect (fun (h, c) -> terminals c |> List.map (fun (_, leaf) -> Some h, leaf))
        | ("Residual" | "Concatenate"), _ -> []
        | _, subs -> terminals (snd (List.last subs))

    /// Warnings about a loss and a model that train, but worse than the user meant: a model output that ends in
    /// softmax (or sigmoid) read by a loss that applies softmax (or sigmoid) itself, as Keras users write
    /// `Dense(10, activation='softmax')` by habit.
    let warnings (loss: Loss) (model: Model) : string list = [
        for head, leaf in terminals model.Layer do
            match leaf.OutputActivation with
            | Some(("Softmax" | "Sigmoid") as act) when List.contains head loss.Logits ->
                let where =
                    match head with
                    | Some h -> sprintf "the head '%s' ends" h
                    | None -> "the model ends"
                yield
                    sprintf
                        "fit: warning: %s in %s, but the loss '%s' takes logits and applies %s itself, so it trains on squashed scores (slowly, and worse). Remove the final %s; predictTopK applies softmax for you."
                        where
                        (act.ToLowerInvariant())
                        loss.Name
                        (if act = "Softmax" then "log-softmax" else "the sigmoid")
                        (act.ToLowerInvariant())
            | _ -> ()
    ]
