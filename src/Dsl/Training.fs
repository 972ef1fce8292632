namespace Dsl

open System
open System.Diagnostics
open Dsl.Engine
open Dsl.Engine.Optim

/// An L1/L2 penalty on the parameters whose path satisfies `Applies` (Keras's kernel_regularizer):
/// loss + l1·Σ|w| + l2·Σw².
type Penalty =
    { Applies: string -> bool
      L1: float
      L2: float }

/// The options of `fit` (Keras's compile and fit arguments together).
type FitOptions =
    { Loss: Loss
      Optimizer: OptimizerSpec
      Metrics: Metric list
      Epochs: int
      BatchSize: int
      /// Reshuffles the training data every epoch, from `Seed`.
      Shuffle: bool
      /// Seeds shuffling and dropout; the same seed gives a bit-identical history on the CPU.
      Seed: int64
      /// Fraction of the data held out for validation: the LAST fraction of the samples, taken before
      /// any shuffling, as Keras does.
      ValidationSplit: float option
      /// Explicit validation data (inputs, targets); takes precedence over ValidationSplit.
      ValidationData: (Tensor * Value) option
      /// Per-class weights for the loss (PyTorch semantics: a weighted mean).
      ClassWeights: float[] option
      Callbacks: Callback list
      Penalties: Penalty list
      /// Applied to each training batch of inputs (augmentation, e.g. `Transform.Compose(RandomCrop …,
      /// HorizontalFlip …)`); reproducible from `Seed`, epoch and batch. Validation data is not transformed.
      Augment: Dsl.Data.Transform option
      ClipGradNorm: float option
      ClipGradValue: float option
      /// A checkpoint (see `Checkpoint` and `Callback.modelCheckpoint`) to resume from: its parameters, state,
      /// optimizer state and counters are restored and training continues after its epoch. With the same
      /// seed, resuming at epoch k and training to n gives the same parameters as training straight to n.
      ResumeFrom: string option
      Verbosity: Verbosity }

    /// Cross-entropy, Adam 1e-3, accuracy, 10 epochs, batch 32 (Keras's default batch), shuffled, seed 0.
    static member Default =
        { Loss = Loss.crossEntropy; Optimizer = Optimizers.adam 1e-3; Metrics = [ Metric.accuracy ]; Epochs = 10; BatchSize = 32
          Shuffle = true; Seed = 0L; ValidationSplit = None; ValidationData = None; ClassWeights = None; Callbacks = []
          Penalties = []; Augment = None; ClipGradNorm = None; ClipGradValue = None; ResumeFrom = None; Verbosity = Auto }

/// The result of `fit`: the model with trained parameters and state, and the per-epoch history.
type Trained =
    { Model: Model
      History: EpochLogs list }

    /// The values of one metric over the epochs.
    member this.Series(name: string) = this.History |> List.choose (fun l -> l.TryGet name)

/// A ranked prediction: the label and its probability.
type Ranked = { Label: string; Probability: float }

/// The LR range test's result: the (learning rate, smoothed loss) curve and the suggested rate.
type LearningRateFinding =
    { Curve: (float * float) list
      Suggested: float }

/// fit, evaluate, predict: training models the way Keras users expect, reproducibly.
module Training =
    let rec private narrowValue (v: Value) (start: int64) (len: int64) : Value =
        match v with
        | Value.T t -> Value.T(t.Narrow(0L, start, len))
        | Value.Heads hs -> Value.Heads(hs |> List.map (fun (n, x) -> n, narrowValue x start len))

    let private count (x: Tensor) = x.Size 0

    /// The value shaped like `template` whose tensors are `ts`, in `Value.tensors` order.
    let private refill (template: Value) (ts: Tensor list) : Value =
        let rec go (v: Value) (ts: Tensor list) =
            match v, ts with
            | Value.T _, t :: rest -> Value.T t, rest
            | Value.T _, [] -> invalidOp "refill: fewer tensors than the value holds"
            | Value.Heads hs, _ ->
                let filled, rest =
                    hs |> List.fold (fun (acc, ts) (n, x) -> let y, rest = go x ts in (n, y) :: acc, rest) ([], ts)
                Value.Heads(List.rev filled), rest
        fst (go template ts)

    /// Checks that targets fit the model: lengths, label ranges, metric and loss shapes.
    let private validateData (what: string) (o: FitOptions) (model: Model) (x: Tensor) (y: Value) =
        let n = count x
        for t in Value.tensors y do
            if t.Size 0 <> n then invalidArg "y" (sprintf "fit: %d inputs but %d targets in the %s data; they must have the same first dimension" n (t.Size 0) what)
        o.Loss.Check model.Output
        for m in o.Metrics do m.Check model.Output (Value.shape y)
        // Class labels must index the model's classes.
        let rec labels (out: Shape) (target: Value) =
            match out, target with
            | Shape.Dims [ c ], Value.T t when (t.DType = DType.Int64 || t.DType = DType.Int32) && c > 1L ->
                use _ = DisposeScope.Enter()
                let lo, hi = t.Min().ToInt64(), t.Max().ToInt64()
                if lo < 0L || hi >= c then
                    invalidArg "y" (sprintf "fit: %s labels range over [%d, %d] but the model has %d classes (labels must lie in [0, %d))" what lo hi c c)
            | Shape.Heads hs, Value.Heads ts ->
                for (h, s) in hs do
                    match List.tryFind (fst >> (=) h) ts with
                    | Some(_, t) -> labels s t
                    | None -> ()
            | _ -> ()
        labels model.Output y

    /// Checks everything that can be checked before the first step; fails with a clear message.
    let private validate (o: FitOptions) (model: Model) (x: Tensor) (y: Value) =
        if o.BatchSize <= 0 then invalidArg "BatchSize" (sprintf "fit: batch size must be positive, got %d" o.BatchSize)
        if o.Epochs <= 0 then invalidArg "Epochs" (sprintf "fit: epochs must be positive, got %d" o.Epochs)
        match o.ValidationSplit with
        | Some s when not (s > 0.0 && s < 1.0) -> invalidArg "ValidationSplit" (sprintf "fit: validation split must lie in (0, 1), got %g" s)
        | _ -> ()
        validateData "training" o model x y
        o.ValidationData |> Option.iter (fun (vx, vy) -> validateData "validation" o model vx vy)
        match o.ClassWeights, model.Output with
        | Some w, Shape.Dims [ c ] when int64 w.Length <> c ->
            invalidArg "ClassWeights" (sprintf "fit: %d class weights for a model with %d classes" w.Length c)
        | Some _, _ when o.Loss.WithClassWeights.IsNone -> invalidArg "ClassWeights" (sprintf "fit: the loss '%s' does not take class weights" o.Loss.Name)
        | _ -> ()

    let private penalty (penalties: Penalty list) (ps: Params) : Tensor option =
        let terms =
            [ for p in penalties do
                for (path, w) in Tree.toList ps do
                    if p.Applies path then
                        if p.L1 <> 0.0 then yield w.Abs().Sum() * p.L1
                        if p.L2 <> 0.0 then yield w.Square().Sum() * p.L2 ]
        if List.isEmpty terms then None else Some(List.reduce (+) terms)

    let private finish (metrics: Metric list) (sums: float[]) (counts: float[]) =
        metrics |> List.mapi (fun i m -> m.Name, m.Finish sums.[i] counts.[i])

    /// Loss and metrics of a model on data, in Eval mode, by batches. The loss is the mean of the batch
    /// losses weighted by batch size (as Keras logs it); with class weights each batch loss is PyTorch's
    /// weighted mean over that batch.
    let evaluateWith (loss: Loss) (metrics: Metric list) (batchSize: int) (model: Model) (x: Tensor) (y: Value) : (string * float) list =
        if batchSize <= 0 then invalidArg "batchSize" (sprintf "evaluate: batch size must be positive, got %d" batchSize)
        use _ = Autograd.NoGrad()
        let n = count x
        let sums, counts = Array.zeroCreate metrics.Length, Array.zeroCreate metrics.Length
        let mutable lossSum = 0.0
        let mutable start = 0L
        while start < n do
            use _ = DisposeScope.Enter()
            let len = min (int64 batchSize) (n - start)
            let xb, yb = x.Narrow(0L, start, len), narrowValue y start len
            let pred = Model.forwardValue model xb
            lossSum <- lossSum + (loss.Compute pred yb).ToDouble() * float len
            metrics |> List.iteri (fun i m -> let s, c = m.Batch pred yb in sums.[i] <- sums.[i] + s; counts.[i] <- counts.[i] + c)
            start <- start + len
        ("loss", lossSum / float n) :: finish metrics sums counts

    /// Loss and metrics with the fit options' loss, metrics and batch size.
    let evaluate (options: FitOptions) (model: Model) (x: Tensor) (y: Value) = evaluateWith options.Loss options.Metrics options.BatchSize model x y

    /// The options' loss, with their class weights applied.
    let private effectiveLoss (o: FitOptions) (model: Model) : Loss =
        match o.ClassWeights with
        | Some w -> o.Loss.WithClassWeights.Value(Torch.From(Array.map float32 w, int64 w.Length).To(model.Device).DetachFromScope())
        | None -> o.Loss

    /// The training batches of fit and findLearningRate, from the engine's DataLoader: seeded shuffle per
    /// epoch, the augmentation, the move to the model's device; with an augmentation the next two batches
    /// are made on a background thread while this one trains (the loader's default prefetch). Each batch
    /// belongs to the DisposeScope open when it is taken.
    let private batchesOf (o: FitOptions) (shuffle: bool) (key: Rng) (model: Model) (x: Tensor) (y: Value) =
        Data.DataLoader(
            x, Array.ofList (Value.tensors y),
            Data.LoaderOptions(
                BatchSize = o.BatchSize, Shuffle = shuffle, Seed = int64 (key.Key &&& 0x7fffffffffffffffUL),
                Transform = Option.toObj o.Augment, Device = model.Device, Ownership = Data.BatchOwnership.CurrentScope))

    /// Trains `model` on inputs `x` and targets `y` (int64 labels, float targets, or named heads). Returns
    /// the model with trained parameters and state (the given model is not modified) and the history.
    let fit (o: FitOptions) (model: Model) (x: Tensor) (y: Value) : Trained =
        validate o model x y
        let xTrain, yTrain, validation =
            match o.ValidationData, o.ValidationSplit with
            | Some(vx, vy), _ -> x, y, Some(vx, vy)
            | None, Some split ->
                let n = count x
                let nVal = int64 (floor (float n * split))
                let nTrain = n - nVal
                if nTrain <= 0L || nVal <= 0L then invalidArg "ValidationSplit" (sprintf "fit: a split of %g leaves %d training and %d validation samples" split nTrain nVal)
                x.Narrow(0L, 0L, nTrain), narrowValue y 0L nTrain, Some(x.Narrow(0L, nTrain, nVal), narrowValue y nTrain nVal)
            | None, None -> x, y, None
        let loss = effectiveLoss o model
        // fit trains its own copies: the caller's model keeps its parameters.
        let mutable ps = Params.clone model.Params |> Tree.map (fun t -> t.DetachFromScope())
        let mutable state = Params.clone model.State |> Tree.map (fun t -> t.DetachFromScope())
        use optimizer = o.Optimizer.Create(Tree.leaves ps)
        let n = count xTrain
        let root = Rng.seed o.Seed
        let shuffleKey, dropoutKey = Rng.split root
        let loader = batchesOf o o.Shuffle shuffleKey model xTrain yTrain
        let batches = loader.BatchesPerEpoch
        let mutable step = 0L
        let mutable stop = false
        let history = Collections.Generic.List<EpochLogs>()
        let restore (p: Params) (s: Params) =
            use _ = Autograd.NoGrad()
            Tree.map2 (fun (dst: Tensor) (src: Tensor) -> dst.Copy_(src) |> ignore) ps p |> ignore
            Tree.map2 (fun (dst: Tensor) (src: Tensor) -> dst.Copy_(src) |> ignore) state s |> ignore
        let context epoch logs =
            { Model = { model with Params = ps; State = state }; Optimizer = optimizer; Epoch = epoch; Epochs = o.Epochs; Step = step
              Logs = logs; History = List.ofSeq history; Stop = (fun () -> stop <- true); Restore = restore }
        let emptyLogs epoch = { Epoch = epoch; Values = []; Seconds = 0.0; LearningRate = optimizer.LearningRate }
        for c in o.Callbacks do c.OnTrainBegin(context 0 (emptyLogs 0))
        // Resume after OnTrainBegin, so that schedules take the base rate, not the checkpoint's scheduled one.
        let firstEpoch =
            match o.ResumeFrom with
            | Some path ->
                let p, s, info = Checkpoint.load path (Some optimizer)
                try restore p s
                finally Params.dispose p; Params.dispose s
                step <- info.Step
                info.Epoch + 1
            | None -> 1
        let mutable epoch = firstEpoch
        while epoch <= o.Epochs && not stop do
            for c in o.Callbacks do c.OnEpochBegin(context epoch (emptyLogs epoch))
            let watch = Stopwatch.StartNew()
            let lr = optimizer.LearningRate
            let sums, counts = Array.zeroCreate o.Metrics.Length, Array.zeroCreate o.Metrics.Length
            let mutable lossSum = 0.0
            let mutable seen = 0L
            use epochBatches = loader.Epoch(epoch).GetEnumerator()
            Progress.runEpoch o.Verbosity epoch o.Epochs batches (fun _ ->
                use scope = DisposeScope.Enter()
                if not (epochBatches.MoveNext()) then invalidOp "fit: the loader ended the epoch early"
                let batch = epochBatches.Current        // its tensors belong to this step's scope
                let xb, yb, len = batch.Inputs, refill yTrain (List.ofSeq batch.Targets), batch.Count
                let pred, newState = model.Layer.Apply { Params = ps; State = state; Mode = Train; Rng = Rng.fold (int step) dropoutKey } (Value.T xb)
                let l = loss.Compute pred yb
                let total = match penalty o.Penalties ps with Some p -> l + p | None -> l
                optimizer.ZeroGrad()
                total.Backward()
                o.ClipGradNorm |> Option.iter (fun c -> optimizer.ClipGradNorm c |> ignore)
                o.ClipGradValue |> Option.iter optimizer.ClipGradValue
                optimizer.Step()
                // Keep the new state; free state tensors that it replaced.
                let kept = Tree.leaves newState |> List.map (fun t -> scope.MoveOut(t).DetachFromScope()) |> Collections.Generic.HashSet
                for old in Tree.leaves state do
                    if not (kept.Contains old) then old.Dispose()
                state <- newState
                step <- step + 1L
                lossSum <- lossSum + l.ToDouble() * float len
                seen <- seen + len
                use _ = Autograd.NoGrad()
                o.Metrics |> List.iteri (fun i m -> let s, c = m.Batch pred yb in sums.[i] <- sums.[i] + s; counts.[i] <- counts.[i] + c)
                String.Join(" - ", ("loss", lossSum / float seen) :: finish o.Metrics sums counts |> List.map (fun (k, v) -> sprintf "%s: %.4f" k v)))
            let trainValues = ("loss", lossSum / float n) :: finish o.Metrics sums counts
            let valValues =
                match validation with
                | Some(vx, vy) ->
                    evaluateWith loss o.Metrics o.BatchSize { model with Params = ps; State = state } vx vy
                    |> List.map (fun (k, v) -> "val_" + k, v)
                | None -> []
            let logs = { Epoch = epoch; Values = trainValues @ valValues; Seconds = watch.Elapsed.TotalSeconds; LearningRate = lr }
            Progress.report o.Verbosity epoch o.Epochs logs
            for c in o.Callbacks do c.OnEpochEnd(context epoch logs)
            history.Add logs
            epoch <- epoch + 1
        for c in o.Callbacks do c.OnTrainEnd(context (epoch - 1) (if history.Count > 0 then history.[history.Count - 1] else emptyLogs 0))
        { Model = { model with Params = ps; State = state }; History = List.ofSeq history }

    /// The model's outputs for `x`, in Eval mode, by batches (concatenated along the batch).
    let predict (batchSize: int) (model: Model) (x: Tensor) : Value =
        if batchSize <= 0 then invalidArg "batchSize" (sprintf "predict: batch size must be positive, got %d" batchSize)
        use scope = DisposeScope.Enter()
        use _ = Autograd.NoGrad()
        let n = count x
        let parts =
            [ let mutable start = 0L
              while start < n do
                  let len = min (int64 batchSize) (n - start)
                  yield Model.forwardValue model (x.Narrow(0L, start, len))
                  start <- start + len ]
        let rec join (vs: Value list) : Value =
            match List.head vs with
            | Value.T _ -> Value.T(scope.MoveOut(Torch.Cat(vs |> List.map Value.tensor |> Array.ofList, 0L)))
            | Value.Heads hs -> Value.Heads(hs |> List.map (fun (h, _) -> h, join (vs |> List.map (Value.head h))))
        join parts

    /// The k most probable classes of each sample, with their softmax probabilities.
    let predictTopK (k: int) (classNames: string list) (model: Model) (x: Tensor) : Ranked list list =
        match model.Output with
        | Shape.Dims [ c ] when c = int64 classNames.Length -> ()
        | Shape.Dims [ c ] -> invalidArg "classNames" (sprintf "predictTopK: %d class names for a model with %d classes; give one name per class" classNames.Length c)
        | out -> invalidArg "classNames" (sprintf "predictTopK: the model's output %O is not one score per class" out)
        use _ = DisposeScope.Enter()
        let logits = predict 256 model x |> Value.tensor
        let probs = Functional.Softmax(logits, -1L)
        let struct (values, indices) = probs.TopK(int64 (min k classNames.Length), -1L)
        let v, i = values.ToArray<float32>(), indices.ToArray<int64>()
        let kk = int (values.Size -1)
        [ for s in 0 .. int (values.Size 0) - 1 ->
              [ for j in 0 .. kk - 1 -> { Label = classNames.[int i.[s * kk + j]]; Probability = float v.[s * kk + j] } ] ]

    /// Prints ranked predictions as `#1 avocado @ 100.00%`.
    let formatTopK (ranked: Ranked list) : string =
        ranked |> List.mapi (fun i r -> sprintf "#%d %s @ %.2f%%" (i + 1) r.Label (100.0 * r.Probability)) |> String.concat "\n"

    /// The LR range test: raises the learning rate exponentially from `minLr` to `maxLr` over `steps`
    /// batches (stopping early when the loss explodes), records the smoothed loss, and suggests the rate
    /// of steepest descent. The model is not modified.
    let findLearningRate (o: FitOptions) (minLr: float) (maxLr: float) (steps: int) (model: Model) (x: Tensor) (y: Value) : LearningRateFinding =
        validate o model x y
        let ps = Params.clone model.Params |> Tree.map (fun t -> t.DetachFromScope())
        let mutable state = Params.clone model.State |> Tree.map (fun t -> t.DetachFromScope())
        use optimizer = o.Optimizer.Create(Tree.leaves ps)
        let loss = effectiveLoss o model
        let shuffleKey, stepKey = Rng.split (Rng.seed o.Seed)
        let loader = batchesOf o true shuffleKey model x y
        let curve = Collections.Generic.List<float * float>()
        let mutable avg, best, i, exploded, epoch = 0.0, Double.PositiveInfinity, 0, false, 0
        while i < steps && not exploded do
            use batches = loader.Epoch(epoch).GetEnumerator()
            let mutable more = true
            while more && i < steps && not exploded do
                use scope = DisposeScope.Enter()
                more <- batches.MoveNext()
                if more then
                    let lr = minLr * (maxLr / minLr) ** (float i / float (max 1 (steps - 1)))
                    optimizer.LearningRate <- lr
                    let batch = batches.Current
                    let pred, newState = model.Layer.Apply { Params = ps; State = state; Mode = Train; Rng = Rng.fold i stepKey } (Value.T batch.Inputs)
                    let l = loss.Compute pred (refill y (List.ofSeq batch.Targets))
                    optimizer.ZeroGrad()
                    l.Backward()
                    optimizer.Step()
                    Tree.leaves newState |> List.iter (fun t -> scope.MoveOut(t).DetachFromScope() |> ignore)
                    state <- newState
                    let v = l.ToDouble()
                    avg <- 0.98 * avg + 0.02 * v
                    let smoothed = avg / (1.0 - 0.98 ** float (i + 1))
                    curve.Add((lr, smoothed))
                    best <- min best smoothed
                    if Double.IsNaN smoothed || smoothed > 4.0 * best then exploded <- true
                    i <- i + 1
            epoch <- epoch + 1
        Params.dispose ps
        Params.dispose state
        let pts = List.ofSeq curve
        let suggested =
            if pts.Length < 3 then fst (List.head pts)
            else
                // Steepest descent of loss against log(lr), up to the minimum (the exploding tail is ignored).
                let lowest = pts |> List.indexed |> List.minBy (snd >> snd) |> fst
                let stable = List.take (lowest + 1) pts
                if stable.Length < 2 then fst (List.head pts)
                else stable |> List.pairwise |> List.minBy (fun ((l1, v1), (l2, v2)) -> (v2 - v1) / (log l2 - log l1)) |> fst |> fst
        { Curve = pts; Suggested = suggested }
