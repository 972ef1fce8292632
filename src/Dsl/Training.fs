namespace Dsl

open System
open System.Diagnostics
open Dsl.Engine
open Dsl.Engine.Optim
open Dsl.Engine.Distributed
open Dsl.Data

/// An L1/L2 penalty on the parameters whose path satisfies `Applies` (Keras's kernel_regularizer):
/// loss + l1·Σ|w| + l2·Σw².
/// The reported loss includes the penalty, as Keras reports it: fit's "loss" and "val_loss" and `evaluate`'s "loss"
/// (with the fit options) are the data loss plus the penalty at the weights of that step or evaluation.
type Penalty = { Applies: string -> bool; L1: float; L2: float }

/// Keras's kernel regularizers as penalties on every weight (the parameters whose path ends in "weight": dense and
/// conv kernels, not biases or batch-norm parameters).
module Penalty =
    /// Whether a parameter path names a kernel (dense or conv weight), as Keras's kernel_regularizer applies.
    let isKernel (path: string) = path.EndsWith "weight" && not (path.Contains "norm")

    /// Keras's `regularizers.l1(a)` on every kernel: + a·Σ|w|.
    let l1 (a: float) : Penalty = { Applies = isKernel; L1 = a; L2 = 0.0 }

    /// Keras's `regularizers.l2(a)` on every kernel: + a·Σw².
    let l2 (a: float) : Penalty = { Applies = isKernel; L1 = 0.0; L2 = a }

/// Data for `fitData`, `evaluateData` and validation: tensors in memory, or a data set read batch by batch
/// (an image folder too large for memory, say).
[<RequireQualifiedAccess>]
type DataSource =
    /// Inputs [N, …] and targets with N rows (int64 labels, float targets, or named heads).
    | Tensors of inputs: Tensor * targets: Value
    /// A data set: with one target (an image folder's labels) that is the targets; with several, they are
    /// named heads (its TargetNames, e.g. hour and minute).
    | Dataset of IDataset

/// The options of `fit` (Keras's compile and fit arguments together).
type FitOptions = {
    Loss: Loss
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
    /// Explicit validation data; takes precedence over ValidationSplit.
    ValidationData: DataSource option
    /// Per-class weights for the loss (PyTorch semantics: a weighted mean).
    ClassWeights: float[] option
    /// Run at Keras's hooks (train, epoch, train batch, test batch: begin and end). The progress display
    /// (`Progress.callback Verbosity`) runs first and the history last, as in Keras.
    Callbacks: Callback list
    Penalties: Penalty list
    /// Applied to each training batch of inputs (augmentation, e.g. `Transform.Compose(RandomCrop …,
    /// HorizontalFlip …)`); reproducible from `Seed`, epoch and batch. Validation data is not transformed.
    Augment: Transform option
    ClipGradNorm: float option
    ClipGradValue: float option
    /// A checkpoint (see `Checkpoint` and `Callback.modelCheckpoint`) to resume from: its parameters, state,
    /// optimizer state and counters are restored and training continues after its epoch. With the same
    /// seed, resuming at epoch k and training to n gives the same parameters as training straight to n.
    ResumeFrom: string option
    /// A NaN or infinite loss stops training with a message naming the epoch and batch (Keras's
    /// TerminateOnNaN); the step is not taken, and the weights kept are the last finite ones (those of the
    /// last finished epoch when the current ones are not finite), or early stopping's best. False trains on.
    TerminateOnNaN: bool
    Verbosity: Verbosity
    /// Parameter groups with their own learning rates (torch.optim's param_groups), as (pattern, rate) pairs:
    /// `[ "features.**", 1e-5; "classifier.**", 1e-3 ]`. A pattern selects as `Model.select` does; each trainable
    /// parameter joins the group of the first pattern selecting it, and the parameters no pattern selects train at the
    /// optimizer's own rate (optimizer group 0; pattern i is group i + 1). Every other hyper-parameter is the
    /// optimizer's. Schedules scale each group's base rate (as PyTorch's schedulers do), ReduceLROnPlateau multiplies
    /// each group's rate, the logs' LearningRate is group 0's, and checkpoints save and restore each group's rate.
    /// A pattern that selects no parameter of the model is an error.
    ParamGroups: (string * float) list
    /// Data-parallel training over a process group (`Distributed.init`): rank 0's parameters and state are broadcast
    /// at the start; each rank takes its shard of every epoch's shuffle (torch's DistributedSampler rule, so
    /// `BatchSize` is per rank); gradients are averaged across ranks in buckets (as DistributedDataParallel) before the
    /// optimizer's step; losses, metrics and validation are reduced over all ranks; only rank 0 runs the callbacks
    /// (progress, checkpoints, reports), and its stop decisions and learning rates reach every rank. None trains alone.
    Distributed: ProcessGroup option
} with

    /// Cross-entropy, Adam 1e-3, accuracy, 10 epochs, batch 32 (Keras's default batch), shuffled, seed 0,
    /// stop on a non-finite loss.
    static member Default = {
        Loss = Loss.crossEntropy
        Optimizer = Optimizers.adam 1e-3
        Metrics = [ Metric.accuracy ]
        Epochs = 10
        BatchSize = 32
        Shuffle = true
        Seed = 0L
        ValidationSplit = None
        ValidationData = None
        ClassWeights = None
        Callbacks = []
        Penalties = []
        Augment = None
        ClipGradNorm = None
        ClipGradValue = None
        ResumeFrom = None
        TerminateOnNaN = true
        Verbosity = Auto
        ParamGroups = []
        Distributed = None
    }

/// The result of `fit`: the model with trained parameters and state, the per-epoch history, and why training
/// stopped early when a non-finite loss stopped it.
type Trained = {
    Model: Model
    History: EpochLogs list
    /// The message printed when a NaN or infinite loss stopped training (FitOptions.TerminateOnNaN).
    StopReason: string option
} with

    /// The values of one metric over the epochs.
    member this.Series(name: string) = this.History |> List.choose (fun l -> l.TryGet name)

/// A ranked prediction: the label and its probability.
type Ranked = { Label: string; Probability: float }

/// The LR range test's result: the (learning rate, smoothed loss) curve and the suggested rate.
type LearningRateFinding = { Curve: (float * float) list; Suggested: float }

/// fit, evaluate, predict: training models the way Keras users expect, reproducibly.
module Training =
    let private count (x: Tensor) = x.Size 0

    /// The value shaped like `template` whose tensors are `ts`, in `Value.tensors` order.
    let private refill (template: Value) (ts: Tensor list) : Value =
        let rec go (v: Value) (ts: Tensor list) =
            match v, ts with
            | Value.T _, t :: rest -> Value.T t, rest
            | Value.T _, [] -> invalidOp "refill: fewer tensors than the value holds"
            | Value.Heads hs, _ ->
                let filled, rest = hs |> List.fold (fun (acc, ts) (n, x) -> let y, rest = go x ts in (n, y) :: acc, rest) ([], ts)
                Value.Heads(List.rev filled), rest
        fst (go template ts)

    let rec private narrowValue (v: Value) (start: int64) (len: int64) : Value =
        match v with
        | Value.T t -> Value.T(t.Narrow(0L, start, len))
        | Value.Heads hs -> Value.Heads(hs |> List.map (fun (n, x) -> n, narrowValue x start len))

    // ---------------------------------------------------------------- data sources as data sets

    /// A data source as a data set, with the way its batches' target tensors become a Value.
    type private Feed = {
        Dataset: IDataset
        Targets: Tensor list -> Value
        /// The source's tensors when it is in memory (evaluation narrows them instead of gathering rows).
        InMemory: (Tensor * Value) option
    }

    let private feedOf (op: string) (what: string) (source: DataSource) : Feed =
        match source with
        | DataSource.Tensors(x, y) ->
            x.ThrowIfDisposed op
            if x.Dim = 0 then invalidArg "x" (sprintf "%s: the %s inputs are a scalar; they need a first (sample) dimension" op what)
            for t in Value.tensors y do
                t.ThrowIfDisposed op
                if t.Dim = 0 || t.Size 0 <> count x then
                    invalidArg
                        "y"
                        (sprintf "%s: %d inputs but %d targets in the %s data; they must have the same first dimension" op (count x) (if t.Dim = 0 then 0L else t.Size 0) what)
            { Dataset = TensorDataset(x, Array.ofList (Value.tensors y), null); Targets = refill y; InMemory = Some(x, y) }
        | DataSource.Dataset ds ->
            let names = List.ofSeq ds.TargetNames
            let targets (ts: Tensor list) =
                match ts with
                | [ t ] -> Value.T t
                | _ -> Value.Heads(List.map2 (fun n t -> n, Value.T t) names ts)
            { Dataset = ds; Targets = targets; InMemory = None }

    /// Samples [start, start + len) of a feed.
    let private range (f: Feed) (start: int64) (len: int64) : Feed =
        match f.InMemory with
        | Some(x, y) -> feedOf "fit" "training" (DataSource.Tensors(x.Narrow(0L, start, len), narrowValue y start len))
        | None -> { f with Dataset = Subset.Range(f.Dataset, start, len) }

    /// The first few samples of a feed, as (inputs, targets), for the checks before training.
    let private sample (what: string) (f: Feed) : Tensor * Value =
        match f.InMemory with
        | Some(x, y) -> x, y
        | None ->
            if f.Dataset.Count <= 0L then invalidArg "data" (sprintf "fit: the %s data set holds no samples" what)
            let struct (x, ts) = f.Dataset.Gather([| 0L .. min 1L (f.Dataset.Count - 1L) |])
            x, f.Targets(List.ofArray ts)

    // ---------------------------------------------------------------- checks before the first step

    /// The per-sample shape of a feed's targets.
    let private targetShape (what: string) (f: Feed) : Shape =
        use _ = DisposeScope.Enter()
        Value.shape (snd (sample what f))

    /// Checks that inputs and targets fit the model: input shape and dtype, lengths, label ranges, metric and
    /// loss shapes. `op` names the caller in messages.
    let private validateData (op: string) (what: string) (loss: Loss) (metrics: Metric list) (model: Model) (f: Feed) =
        use _ = DisposeScope.Enter()
        let x, y = sample what f
        Inputs.check op model x
        let n = count x
        for t in Value.tensors y do
            if t.Size 0 <> n then invalidArg "y" (sprintf "%s: %d inputs but %d targets in the %s data; they must have the same first dimension" op n (t.Size 0) what)
        loss.Check model.Output y
        for m in metrics do
            m.Check model.Output (Value.shape y)
        // Class labels must index the model's classes.
        let rec labels (out: Shape) (target: Value) =
            match out, target with
            | Shape.Dims [ c ], Value.T t when (t.DType = DType.Int64 || t.DType = DType.Int32) && c > 1L ->
                let lo, hi = t.Min().ToInt64(), t.Max().ToInt64()
                if lo < 0L || hi >= c then
                    let fix =
                        if lo = 1L && hi = c then
                            sprintf " They look 1-based: y - 1L makes them 0-based."
                        else
                            sprintf " Build the model with %d outputs, or map the labels into [0, %d)." (hi + 1L) c
                    invalidArg "y" (sprintf "%s: %s labels range over [%d, %d] but the model has %d classes (labels must lie in [0, %d)).%s" op what lo hi c c fix)
            | Shape.Heads hs, Value.Heads ts ->
                for (h, s) in hs do
                    match List.tryFind (fst >> (=) h) ts with
                    | Some(_, t) -> labels s t
                    | None -> ()
            | _ -> ()
        labels model.Output y

    /// Checks everything that can be checked before the first step; fails with a clear message.
    let private validate (op: string) (o: FitOptions) (model: Model) (train: Feed) (validation: Feed option) =
        if o.BatchSize <= 0 then invalidArg "BatchSize" (sprintf "%s: batch size must be positive, got %d" op o.BatchSize)
        if o.Epochs <= 0 then invalidArg "Epochs" (sprintf "%s: epochs must be positive, got %d" op o.Epochs)
        match o.ValidationSplit with
        | Some s when not (s > 0.0 && s < 1.0) -> invalidArg "ValidationSplit" (sprintf "%s: validation split must lie in (0, 1), got %g" op s)
        | _ -> ()
        if List.isEmpty (Model.trainable model) then
            invalidArg
                "model"
                (sprintf
                    "%s: the model has nothing to train: all %d parameters are frozen (%s). Unfreeze some with Model.unfreeze [ \"path\" ], or build the layers without `frozen`."
                    op
                    (Tree.count model.Params)
                    (String.concat ", " (List.truncate 5 (Tree.paths model.Params))))
        for (pattern, lr) in o.ParamGroups do
            if List.isEmpty (Model.select pattern model) then
                invalidArg
                    "ParamGroups"
                    (sprintf
                        "%s: the parameter group '%s' selects no parameter; paths are %s%s"
                        op
                        pattern
                        (String.concat ", " (List.truncate 20 (Tree.paths model.Params)))
                        (if Tree.count model.Params > 20 then sprintf ", … (%d in all)" (Tree.count model.Params) else ""))
            if not (Double.IsFinite lr && lr >= 0.0) then
                invalidArg "ParamGroups" (sprintf "%s: the parameter group '%s' has learning rate %g; it must be finite and ≥ 0" op pattern lr)
        validateData op "training" o.Loss o.Metrics model train
        validation |> Option.iter (validateData op "validation" o.Loss o.Metrics model)
        Inputs.checkMonitors o.Callbacks o.Metrics validation.IsSome
        match o.ClassWeights, model.Output with
        | Some w, Shape.Dims [ c ] when int64 w.Length <> c -> invalidArg "ClassWeights" (sprintf "%s: %d class weights for a model with %d classes" op w.Length c)
        | Some _, _ when o.Loss.WithClassWeights.IsNone -> invalidArg "ClassWeights" (sprintf "%s: the loss '%s' does not take class weights" op o.Loss.Name)
        | Some w, _ ->
            match w |> Array.tryFindIndex (fun v -> not (System.Double.IsFinite v && v > 0.0)) with
            | Some i ->
                invalidArg
                    "ClassWeights"
                    (sprintf
                        "%s: class weight %d is %g; weights must be positive and finite (a zero or NaN weight makes the weighted mean NaN). Give a small positive weight to down-weight a class."
                        op
                        i
                        w.[i])
            | None -> ()
        | None, _ -> ()

    /// The training and validation feeds of fit: explicit validation data, or the last fraction of the
    /// training data (before any shuffling, as Keras), or none.
    let private splitFeeds (o: FitOptions) (train: DataSource) : Feed * Feed option =
        let all = feedOf "fit" "training" train
        match o.ValidationData, o.ValidationSplit with
        | Some v, _ -> all, Some(feedOf "fit" "validation" v)
        | None, Some split when split > 0.0 && split < 1.0 ->
            let n = all.Dataset.Count
            let nVal = int64 (floor (float n * split))
            let nTrain = n - nVal
            if nTrain <= 0L || nVal <= 0L then invalidArg "ValidationSplit" (sprintf "fit: a split of %g leaves %d training and %d validation samples" split nTrain nVal)
            range all 0L nTrain, Some(range all nTrain nVal)
        | None, _ -> all, None

    // ---------------------------------------------------------------- evaluation

    let private penalty (penalties: Penalty list) (ps: Params) : Tensor option =
        let terms = [
            for p in penalties do
                for (path, w) in Tree.toList ps do
                    if p.Applies path then
                        if p.L1 <> 0.0 then yield w.Abs().Sum() * p.L1
                        if p.L2 <> 0.0 then yield w.Square().Sum() * p.L2
        ]
        if List.isEmpty terms then None else Some(List.reduce (+) terms)

    /// Loss and metrics with the penalty at `ps` added to "loss" (as Keras reports the loss of a regularised model).
    let private penalised (penalties: Penalty list) (ps: Params) (values: (string * float) list) =
        if List.isEmpty penalties then
            values
        else
            use _ = DisposeScope.Enter()
            use _ = Autograd.NoGrad()
            match penalty penalties ps with
            | Some p ->
                let extra = p.ToDouble()
                values |> List.map (fun (k, v) -> if k = "loss" then k, v + extra else k, v)
            | None -> values

    let private finish (metrics: Metric list) (sums: float[]) (counts: float[]) = metrics |> List.mapi (fun i m -> m.Name, m.Finish sums.[i] counts.[i])

    /// Running sums of the loss (weighted by batch size) and of every metric.
    type private Tally(metrics: Metric list) =
        let sums, counts = Array.zeroCreate<float> metrics.Length, Array.zeroCreate<float> metrics.Length
        let mutable lossSum = 0.0
        let mutable seen = 0L
        member _.Add(loss: float, len: int64, pred: Value, target: Value) =
            lossSum <- lossSum + loss * float len
            seen <- seen + len
            use _ = Autograd.NoGrad()
            metrics
            |> List.iteri (fun i m ->
                let s, c = m.Batch pred target in
                sums.[i] <- sums.[i] + s
                counts.[i] <- counts.[i] + c)
        /// Loss and metrics so far.
        member _.Values = ("loss", lossSum / float seen) :: finish metrics sums counts
        /// The running sums (loss·samples, samples, each metric's sum and count), to be added across ranks.
        member _.Raw = Array.concat [ [| lossSum; float seen |]; sums; counts ]
        /// Loss and metrics of sums that `Raw` gave (summed over ranks).
        member _.ValuesOf(raw: float[]) =
            let k = metrics.Length
            ("loss", raw.[0] / raw.[1]) :: finish metrics raw.[2 .. 1 + k] raw.[2 + k .. 1 + 2 * k]

    /// The evaluation batches of a feed, in order: narrowed views for tensors in memory, the data set's
    /// batches (no shuffle, no augmentation) otherwise. Each batch's tensors belong to the scope open when it
    /// is taken.
    let private evalBatches (batchSize: int) (device: Device) (f: Feed) : seq<Tensor * Value> =
        match f.InMemory with
        | Some(x, y) ->
            let n = count x
            seq {
                let mutable start = 0L
                while start < n do
                    let len = min (int64 batchSize) (n - start)
                    yield (let xb = x.Narrow(0L, start, len) in (if xb.Device = device then xb else xb.To device)), narrowValue y start len
                    start <- start + len
            }
        | None ->
            let loader = DataLoader(f.Dataset, LoaderOptions(BatchSize = batchSize, Shuffle = false, Device = device, Ownership = BatchOwnership.CurrentScope))
            loader.Epoch 0 |> Seq.map (fun b -> b.Inputs, f.Targets(List.ofSeq b.Targets))

    /// Loss and metrics of a model on a feed, in Eval mode, by batches, calling `onBatch` before and after
    /// each one (the test-batch hooks). With a process group each rank evaluates its contiguous share of the samples
    /// and the sums are added over the ranks, so every rank returns the values of the whole feed.
    let rec private evaluateFeedOn
        (group: ProcessGroup option)
        (loss: Loss)
        (metrics: Metric list)
        (batchSize: int)
        (model: Model)
        (f: Feed)
        (hooks: (BatchLogs -> unit) * (BatchLogs -> unit))
        : (string * float) list =
        if batchSize <= 0 then invalidArg "batchSize" (sprintf "evaluate: batch size must be positive, got %d" batchSize)
        if f.Dataset.Count = 0L then invalidArg "data" "evaluate: there are no samples to evaluate on (the data holds 0 rows); the loss and metrics of nothing are undefined"
        match group with
        | Some g when g.WorldSize > 1 ->
            let n = f.Dataset.Count
            let start r = n * int64 r / int64 g.WorldSize
            let first, last = start g.Rank, start (g.Rank + 1)
            let tally = Tally metrics
            if last > first then evaluateInto tally loss batchSize model (range f first (last - first)) hooks
            tally.ValuesOf(g.AllReduce(tally.Raw, CollectiveOp.Sum))
        | _ ->
            let tally = Tally metrics
            evaluateInto tally loss batchSize model f hooks
            tally.Values

    and private evaluateInto (tally: Tally) (loss: Loss) (batchSize: int) (model: Model) (f: Feed) (hooks: (BatchLogs -> unit) * (BatchLogs -> unit)) =
        use _ = Autograd.NoGrad()
        let before, after = hooks
        use batches = (evalBatches batchSize model.Device f).GetEnumerator()
        let mutable b = 0
        let mutable more = true
        while more do
            use _ = DisposeScope.Enter()
            more <- batches.MoveNext()
            if more then
                let xb, yb = batches.Current
                let len = count xb
                before { Batch = b; Size = len; Values = [] }
                let pred = Model.forwardValue model xb
                tally.Add((loss.Compute pred yb).ToDouble(), len, pred, yb)
                after { Batch = b; Size = len; Values = tally.Values }
                b <- b + 1

    let private evaluateFeed loss metrics batchSize model f hooks = evaluateFeedOn None loss metrics batchSize model f hooks

    let private noHooks: (BatchLogs -> unit) * (BatchLogs -> unit) = ignore, ignore

    /// Checks a feed for evaluation and evaluates it with the metrics that fit the model.
    let private evaluateChecked (loss: Loss) (metrics: Metric list) (batchSize: int) (model: Model) (f: Feed) : Evaluation =
        if f.Dataset.Count = 0L then invalidArg "data" "evaluate: there are no samples to evaluate on (the data holds 0 rows); the loss and metrics of nothing are undefined"
        let metrics = Inputs.metricsFor model (targetShape "evaluation" f) metrics
        validateData "evaluate" "evaluation" loss metrics model f
        { Values = evaluateFeed loss metrics batchSize model f noHooks }

    /// Loss and metrics of a model on data, in Eval mode, by batches: `(evaluateWith …).["accuracy"]`. The loss is
    /// the mean of the batch losses weighted by batch size (as Keras logs it); with class weights each batch loss is
    /// PyTorch's weighted mean over that batch. Inputs and targets are checked against the model first.
    let evaluateWith (loss: Loss) (metrics: Metric list) (batchSize: int) (model: Model) (x: Tensor) (y: Value) : Evaluation =
        evaluateChecked loss metrics batchSize model (feedOf "evaluate" "evaluation" (DataSource.Tensors(x, y)))

    /// Loss and metrics on any data source (an image folder read batch by batch, say), with the fit options'
    /// loss, metrics and batch size; the loss includes the options' penalties at the model's weights, as Keras's
    /// evaluate reports it.
    let evaluateData (options: FitOptions) (model: Model) (data: DataSource) : Evaluation =
        let e = evaluateChecked options.Loss options.Metrics options.BatchSize model (feedOf "evaluate" "evaluation" data)
        { Values = penalised options.Penalties model.Params e.Values }

    /// Loss and metrics with the fit options' loss, metrics and batch size: `(Training.evaluate o model x y).["accuracy"]`.
    /// The loss includes the options' penalties, as Keras's evaluate reports it (`evaluateWith` gives the data loss alone).
    let evaluate (options: FitOptions) (model: Model) (x: Tensor) (y: Value) : Evaluation = evaluateData options model (DataSource.Tensors(x, y))

    // ---------------------------------------------------------------- the training step

    /// The options' loss, with their class weights applied.
    let private effectiveLoss (o: FitOptions) (model: Model) : Loss =
        match o.ClassWeights with
        | Some w -> o.Loss.WithClassWeights.Value(Torch.From(Array.map float32 w, int64 w.Length).To(model.Device).DetachFromScope())
        | None -> o.Loss

    /// What the training step works on: the model's structure and frozen set, the live parameters and state
    /// (copies that training owns), the optimizer over the trainable ones, and the step's options.
    type private Trainer = {
        Model: Model
        Loss: Loss
        Options: FitOptions
        Optimizer: Optimizer
        mutable Params: Params
        mutable State: Params
        /// The trainable parameters in the model's order (those whose gradients are averaged across ranks).
        Trainable: Tensor list
        /// Bytes all-reduced and seconds spent in gradient averaging, for data-parallel training.
        mutable CommBytes: int64
        mutable CommSeconds: float
    } with

        /// The model with the live parameters and state.
        member t.Current = Model.withLive t.Params t.State t.Model

    /// A trainer over copies of the model's parameters and state (the given model keeps its own), with an
    /// optimizer over the trainable ones; requires-grad follows the model's trainability.
    let private trainer (o: FitOptions) (model: Model) : Trainer =
        let copy (isParam: bool) (t: Params) =
            t
            |> Tree.mapi (fun path (x: Tensor) ->
                let c = (use _ = Autograd.NoGrad() in x.Clone()).DetachFromScope()
                c.RequiresGrad <- isParam && Model.isTrainable path model
                c)
        let ps = copy true model.Params
        let state = copy false model.State
        let trainable = Tree.toList ps |> List.filter (fun (p, _) -> Model.isTrainable p model)
        // Each trainable parameter joins the first group whose pattern selects it; group 0 holds the rest.
        let selected = o.ParamGroups |> List.map (fun (pattern, _) -> Set.ofList (Model.select pattern model))
        let groupOf (path: string) =
            match selected |> List.tryFindIndex (fun s -> s.Contains path) with
            | Some i -> i + 1
            | None -> 0
        let members g = trainable |> List.filter (fun (p, _) -> groupOf p = g) |> List.map snd
        let optimizer = o.Optimizer.Create(members 0)
        try
            o.ParamGroups |> List.iteri (fun i (_, lr) -> optimizer.AddParamGroup(members (i + 1), lr) |> ignore)
        with _ ->
            optimizer.Dispose()
            reraise ()
        {
            Model = model
            Loss = effectiveLoss o model
            Options = o
            Optimizer = optimizer
            Params = ps
            State = state
            Trainable = List.map snd trainable
            CommBytes = 0L
            CommSeconds = 0.0
        }

    /// Frees the trainer's parameters and state (after a fit that failed, or a test run such as the LR range test).
    let private release (t: Trainer) =
        Params.dispose t.Params
        Params.dispose t.State
        t.Optimizer.Dispose()

    /// One optimisation step on a batch, inside the caller's scope: forward in Train mode, the loss plus the
    /// penalties, backward, clipping, the optimizer's step, and the new state (state tensors it replaces are
    /// freed). Returns the batch's loss (plus the penalties, as Keras reports it) and the predictions; a non-finite loss with TerminateOnNaN returns
    /// None before any gradient is taken or any parameter changes.
    let private step (t: Trainer) (scope: DisposeScope) (rng: Rng) (xb: Tensor) (yb: Value) : (float * Value) option =
        let pred, newState = Model.applyWith t.Model t.Params t.State Train rng (Value.T xb)
        let l = t.Loss.Compute pred yb
        let value = l.ToDouble()
        // Data-parallel: one small all-reduce per step carries the losses (so that every rank sees a non-finite one
        // and all stop at the same step) and rank 0's learning rates (its callbacks alone schedule them).
        let seen =
            match t.Options.Distributed with
            | Some g when g.WorldSize > 1 ->
                let lrs = t.Optimizer.LearningRates
                let v =
                    Array.init (1 + lrs.Count) (fun i ->
                        if i = 0 then value
                        elif g.Rank = 0 then lrs.[i - 1]
                        else 0.0)
                let r = g.AllReduce(v, CollectiveOp.Sum)
                if g.Rank <> 0 then
                    for i in 0 .. lrs.Count - 1 do
                        t.Optimizer.SetLearningRate(i, r.[i + 1])
                r.[0]
            | _ -> value
        if t.Options.TerminateOnNaN && not (Double.IsFinite seen) then
            None
        else
            let total, reported =
                match penalty t.Options.Penalties t.Params with
                | Some p -> (let total = l + p in total, total.ToDouble())
                | None -> l, value
            t.Optimizer.ZeroGrad()
            total.Backward()
            match t.Options.Distributed with
            | Some g when g.WorldSize > 1 ->
                let watch = Stopwatch.StartNew()
                t.CommBytes <- t.CommBytes + g.AverageGradients(t.Trainable)
                t.CommSeconds <- t.CommSeconds + watch.Elapsed.TotalSeconds
            | _ -> ()
            t.Options.ClipGradNorm |> Option.iter (fun c -> t.Optimizer.ClipGradNorm c |> ignore)
            t.Options.ClipGradValue |> Option.iter t.Optimizer.ClipGradValue
            t.Optimizer.Step()
            let kept = Tree.leaves newState |> List.map (fun s -> scope.MoveOut(s).DetachFromScope()) |> Collections.Generic.HashSet
            for old in Tree.leaves t.State do
                if not (kept.Contains old) then old.Dispose()
            t.State <- newState
            Some(reported, pred)

    /// The training batches of fit and findLearningRate, from a DataLoader: seeded shuffle per epoch, the
    /// augmentation, the move to the model's device; with an augmentation or a data set that is not in memory
    /// the next two batches are made on a background thread while this one trains (the loader's default
    /// prefetch). Each batch belongs to the DisposeScope open when it is taken.
    let private loaderOf (o: FitOptions) (shuffle: bool) (key: Rng) (model: Model) (f: Feed) =
        DataLoader(
            f.Dataset,
            LoaderOptions(
                BatchSize = o.BatchSize,
                Shuffle = shuffle,
                Seed = int64 (key.Key &&& 0x7fffffffffffffffUL),
                Transform = Option.toObj o.Augment,
                Device = model.Device,
                Ownership = BatchOwnership.CurrentScope,
                NumReplicas =
                    (match o.Distributed with
                     | Some g -> g.WorldSize
                     | None -> 1),
                ReplicaRank =
                    (match o.Distributed with
                     | Some g -> g.Rank
                     | None -> 0)
            )
        )

    let private allFinite (t: Params) =
        use _ = DisposeScope.Enter()
        Tree.leaves t |> List.forall (fun x -> not (x.DType.IsFloating()) || x.IsFinite().All().ToDouble() <> 0.0)

    let private copyInto (dst: Params) (src: Params) =
        use _ = Autograd.NoGrad()
        Tree.map2 (fun (d: Tensor) (s: Tensor) -> d.Copy_(s) |> ignore) dst src |> ignore

    // ---------------------------------------------------------------- fit

    /// The options that matter as (name, value) text, for reports (TrainingContext.Settings).
    let private settingsOf (o: FitOptions) (batches: int) (n: int64) : (string * string) list =
        let opt f = Option.map f >> Option.defaultValue "none"
        let names = List.map (fun (c: Callback) -> c.Name) >> String.concat ", "
        [
            "loss", o.Loss.Name
            "metrics", (o.Metrics |> List.map _.Name |> String.concat ", ")
            "epochs", string o.Epochs
            "batch size", sprintf "%d (%d batches of %d training samples)" o.BatchSize batches n
            "shuffle", string o.Shuffle
            "seed", string o.Seed
            "validation",
            (match o.ValidationData, o.ValidationSplit with
             | Some _, _ -> "given data"
             | None, Some s -> sprintf "last %g of the data" s
             | None, None -> "none")
            "augmentation", opt string o.Augment
            "callbacks", (if o.Callbacks.IsEmpty then "none" else names o.Callbacks)
            "class weights", opt (Array.map (sprintf "%g") >> String.concat ", ") o.ClassWeights
            "penalties",
            (o.Penalties
             |> List.map (fun p -> sprintf "l1 %g, l2 %g" p.L1 p.L2)
             |> function
                 | [] -> "none"
                 | ps -> String.concat "; " ps)
            "gradient clipping",
            (match o.ClipGradNorm, o.ClipGradValue with
             | None, None -> "none"
             | a, b -> sprintf "norm %s, value %s" (opt string a) (opt string b))
            "resumed from", opt id o.ResumeFrom
            "distributed",
            (match o.Distributed with
             | Some g -> sprintf "%d ranks (batch size per rank), Gloo" g.WorldSize
             | None -> "no")
        ]

    /// Trains `model` on any data source (tensors in memory or a data set read batch by batch). Returns the
    /// model with trained parameters and state (the given model is not modified), the history and, when a
    /// non-finite loss stopped training, the reason.
    let fitData (o: FitOptions) (model: Model) (data: DataSource) : Trained =
        let train, validation = splitFeeds o data
        let o = { o with Metrics = Inputs.metricsFor model (targetShape "training" train) o.Metrics }
        validate "fit" o model train validation
        for w in Inputs.warnings o.Loss model do
            eprintfn "%s" w
        let t = trainer o model
        let root = Rng.seed o.Seed
        let shuffleKey, dropoutKey = Rng.split root
        let loader = loaderOf o o.Shuffle shuffleKey model train
        let batches = loader.BatchesPerEpoch
        let n = train.Dataset.Count
        let settings = settingsOf o batches n
        let history = History()
        // Data-parallel: only rank 0 runs the callbacks (progress, checkpoints, reports, schedules, early stopping);
        // its learning rates reach the others at every step and its stop decision at every epoch's end.
        let group = o.Distributed |> Option.filter (fun g -> g.WorldSize > 1)
        let isRoot = group |> Option.forall (fun g -> g.Rank = 0)
        let callbacks = if isRoot then Progress.callback o.Verbosity :: o.Callbacks @ [ history.Callback ] else [ history.Callback ]
        let dropoutKey =
            match group with
            | Some g -> Rng.fold g.Rank dropoutKey
            | None -> dropoutKey
        let fromRoot () = group |> Option.iter (fun g -> g.Broadcast(Array.ofList (Tree.leaves t.Params @ Tree.leaves t.State), 0))
        let mutable step' = 0L
        let mutable stop = false
        let mutable past: EpochLogs list = []
        // A checkpoint to resume from is checked (hash, counters) before any callback runs.
        let resumed =
            match o.ResumeFrom with
            | Some path -> Some(Checkpoint.info path)
            | None -> None
        let initialEpoch = resumed |> Option.map _.Epoch |> Option.defaultValue 0
        // A resumed fit continues the checkpoint's history: callbacks and the result see every epoch once.
        let earlier = resumed |> Option.map _.History |> Option.defaultValue []
        past <- earlier
        let restore (p: Params) (s: Params) =
            copyInto t.Params p
            copyInto t.State s
        let emptyLogs epoch = { Epoch = epoch; Values = []; Seconds = 0.0; LearningRate = t.Optimizer.LearningRate }
        let context epoch logs = {
            Model = t.Current
            Optimizer = t.Optimizer
            Epoch = epoch
            Epochs = o.Epochs
            InitialEpoch = initialEpoch
            Batches = batches
            Step = step'
            Logs = logs
            History = past
            Stop = (fun () -> stop <- true)
            Restore = restore
            Settings = settings
        }
        try
            for c in callbacks do
                c.OnTrainBegin(context 0 (emptyLogs 0))
            // Resume after OnTrainBegin, so that schedules take the base rate, not the checkpoint's scheduled one.
            let firstEpoch =
                match o.ResumeFrom with
                | Some path ->
                    let info = Checkpoint.restore path t.Params t.State (Some t.Optimizer)
                    step' <- info.Step
                    info.Epoch + 1
                | None -> 1
            // Every rank starts from rank 0's parameters and state (DistributedDataParallel's broadcast at construction).
            fromRoot ()
            // The weights to fall back on when a non-finite loss leaves non-finite weights: those of the last finished epoch.
            let lastGood =
                if o.TerminateOnNaN then
                    Some(Params.clone t.Params |> Tree.map (fun x -> x.DetachFromScope()), Params.clone t.State |> Tree.map (fun x -> x.DetachFromScope()))
                else
                    None
            let mutable stopReason = None
            try
                let mutable epoch = firstEpoch
                while epoch <= o.Epochs && not stop && stopReason.IsNone do
                    for c in callbacks do
                        c.OnEpochBegin(context epoch (emptyLogs epoch))
                    let watch = Stopwatch.StartNew()
                    let lr = t.Optimizer.LearningRate
                    let tally = Tally o.Metrics
                    use epochBatches = loader.Epoch(epoch).GetEnumerator()
                    let mutable b = 0
                    while b < batches && stopReason.IsNone do
                        use scope = DisposeScope.Enter()
                        if not (epochBatches.MoveNext()) then invalidOp "fit: the loader ended the epoch early"
                        let batch = epochBatches.Current // its tensors belong to this step's scope
                        let xb, yb, len = batch.Inputs, train.Targets(List.ofSeq batch.Targets), batch.Count
                        let ctx = context epoch (emptyLogs epoch)
                        for c in callbacks do
                            c.OnTrainBatchBegin ctx { Batch = b; Size = len; Values = [] }
                        match step t scope (Rng.fold (int step') dropoutKey) xb yb with
                        | None ->
                            let kept =
                                if allFinite t.Params && allFinite t.State then
                                    "the weights after the last finite step are kept"
                                else
                                    lastGood |> Option.iter (fun (p, s) -> restore p s)
                                    if epoch = firstEpoch then
                                        "the weights were not finite, so those from the start of training are kept"
                                    else
                                        sprintf "the weights were not finite, so those of epoch %d are kept" (epoch - 1)
                            stopReason <-
                                Some(
                                    sprintf
                                        "fit: the loss is not finite at epoch %d, batch %d (step %d): training stopped (TerminateOnNaN) and %s. Lower the learning rate, clip gradients (ClipGradNorm) or check the data for NaN and infinity; set TerminateOnNaN = false to train on."
                                        epoch
                                        (b + 1)
                                        (step' + 1L)
                                        kept
                                )
                        | Some(lossValue, pred) ->
                            step' <- step' + 1L
                            tally.Add(lossValue, len, pred, yb)
                            let ctx = context epoch (emptyLogs epoch)
                            for c in callbacks do
                                c.OnTrainBatchEnd ctx { Batch = b; Size = len; Values = tally.Values }
                            b <- b + 1
                    if stopReason.IsNone then
                        let trainValues =
                            match group with
                            | Some g -> tally.ValuesOf(g.AllReduce(tally.Raw, CollectiveOp.Sum))
                            | None -> tally.Values
                        let valValues =
                            match validation with
                            | Some v ->
                                let ctx = context epoch (emptyLogs epoch)
                                let hooks =
                                    (fun l ->
                                        for c in callbacks do
                                            c.OnTestBatchBegin ctx l),
                                    (fun l ->
                                        for c in callbacks do
                                            c.OnTestBatchEnd ctx l)
                                evaluateFeedOn o.Distributed t.Loss o.Metrics o.BatchSize t.Current v hooks
                                |> penalised o.Penalties t.Params
                                |> List.map (fun (k, v) -> "val_" + k, v)
                            | None -> []
                        let logs = { Epoch = epoch; Values = trainValues @ valValues; Seconds = watch.Elapsed.TotalSeconds; LearningRate = lr }
                        for c in callbacks do
                            c.OnEpochEnd(context epoch logs)
                        match group with
                        | Some g -> stop <- g.AllReduce([| (if isRoot && stop then 1.0 else 0.0) |], CollectiveOp.Sum).[0] > 0.0
                        | None -> ()
                        past <- earlier @ history.Epochs
                        lastGood
                        |> Option.iter (fun (p, s) ->
                            copyInto p t.Params
                            copyInto s t.State)
                        epoch <- epoch + 1
                stopReason |> Option.iter (fun r -> if o.Verbosity <> Silent then Console.WriteLine r)
                let last =
                    match past with
                    | [] -> emptyLogs 0
                    | h -> List.last h
                for c in callbacks do
                    c.OnTrainEnd(context last.Epoch last)
                // Rank 0's callbacks may have restored other weights (early stopping's best): every rank ends with them.
                fromRoot ()
                { Model = t.Current; History = earlier @ history.Epochs; StopReason = stopReason }
            finally
                lastGood
                |> Option.iter (fun (p, s) ->
                    Params.dispose p
                    Params.dispose s)
                t.Optimizer.Dispose()
        with _ ->
            Params.dispose t.Params
            Params.dispose t.State
            reraise ()

    /// Trains `model` on inputs `x` and targets `y` (int64 labels, float targets, or named heads). Returns
    /// the model with trained parameters and state (the given model is not modified) and the history.
    let fit (o: FitOptions) (model: Model) (x: Tensor) (y: Value) : Trained = fitData o model (DataSource.Tensors(x, y))

    // ---------------------------------------------------------------- full-batch L-BFGS

    /// Trains `model` with L-BFGS on the whole of `x`, `y` at once, as PyTorch users write it: `o.Epochs` calls of
    /// `LBFGS.Step(closure)` (each up to `spec.MaxIter` iterations), where the closure computes `o.Loss` plus
    /// `o.Penalties` on every sample and backpropagates. The objective is the model in Eval mode (L-BFGS needs the
    /// same function at every evaluation: no dropout, batch norm's running statistics, which do not change).
    /// History: per step the loss before it ("loss") and the evaluations and iterations so far ("func_evals",
    /// "n_iter"); the last entry's "loss" is the final loss. The given model is not modified.
    let fitFullBatch (spec: LbfgsSpec) (o: FitOptions) (model: Model) (x: Tensor) (y: Value) : Trained =
        if o.Epochs < 1 then invalidArg "o" (sprintf "fitFullBatch: Epochs is the number of L-BFGS steps and must be ≥ 1, got %d" o.Epochs)
        let train = feedOf "fitFullBatch" "training" (DataSource.Tensors(x, y))
        validate "fitFullBatch" { o with Metrics = []; ValidationSplit = None; ValidationData = None } model train None
        let copy (isParam: bool) (t: Params) =
            t
            |> Tree.mapi (fun path (p: Tensor) ->
                let c = (use _ = Autograd.NoGrad() in p.Clone()).DetachFromScope()
                c.RequiresGrad <- isParam && Model.isTrainable path model
                c)
        let ps = copy true model.Params
        let state = copy false model.State
        try
            use _ = DisposeScope.Enter()
            let trainable = Model.trainable model |> List.map fst |> Set.ofList
            let live = Tree.toList ps |> List.filter (fun (p, _) -> trainable.Contains p) |> List.map snd
            let loss = effectiveLoss o model
            let xd = x.To(model.Device)
            let yd = refill y (Value.tensors y |> List.map (fun t -> t.To(model.Device)))
            use opt = spec.Create live
            let closure () =
                opt.ZeroGrad()
                let pred, _ = Model.applyWith model ps state Eval (Rng.seed o.Seed) (Value.T xd)
                let l = loss.Compute pred yd
                let total =
                    match penalty o.Penalties ps with
                    | Some p -> l + p
                    | None -> l
                total.Backward()
                total.ToDouble()
            let history = [
                for step in 1 .. o.Epochs ->
                    let watch = Stopwatch.StartNew()
                    let before = opt.Step(Func<float> closure)
                    {
                        Epoch = step
                        Values = [ "loss", before; "func_evals", float opt.FuncEvals; "n_iter", float opt.Iterations ]
                        Seconds = watch.Elapsed.TotalSeconds
                        LearningRate = spec.Lr
                    }
            ]
            let final =
                use _ = DisposeScope.Enter()
                use _ = Autograd.NoGrad()
                let pred, _ = Model.applyWith model ps state Eval (Rng.seed o.Seed) (Value.T xd)
                let l = loss.Compute pred yd
                (match penalty o.Penalties ps with
                 | Some p -> l + p
                 | None -> l)
                    .ToDouble()
            let last = List.last history
            let history = List.take (history.Length - 1) history @ [ { last with Values = ("final_loss", final) :: last.Values } ]
            { Model = Model.withLive ps state model; History = history; StopReason = None }
        with _ ->
            Params.dispose ps
            Params.dispose state
            reraise ()

    // ---------------------------------------------------------------- prediction

    /// The model's outputs for `x`, in Eval mode, by batches (concatenated along the batch).
    let predict (batchSize: int) (model: Model) (x: Tensor) : Value =
        if batchSize <= 0 then invalidArg "batchSize" (sprintf "predict: batch size must be positive, got %d" batchSize)
        Inputs.check "predict" model x
        use scope = DisposeScope.Enter()
        use _ = Autograd.NoGrad()
        let n = count x
        let parts = [
            let mutable start = 0L
            while start < n do
                let len = min (int64 batchSize) (n - start)
                yield Model.forwardValue model (x.Narrow(0L, start, len))
                start <- start + len
        ]
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
        [ for s in 0 .. int (values.Size 0) - 1 -> [ for j in 0 .. kk - 1 -> { Label = classNames.[int i.[s * kk + j]]; Probability = float v.[s * kk + j] } ] ]

    /// Prints ranked predictions as `#1 avocado @ 100.00%`.
    let formatTopK (ranked: Ranked list) : string =
        ranked |> List.mapi (fun i r -> sprintf "#%d %s @ %.2f%%" (i + 1) r.Label (100.0 * r.Probability)) |> String.concat "\n"

    // ---------------------------------------------------------------- the LR range test

    /// The LR range test: raises the learning rate exponentially from `minLr` to `maxLr` over `steps`
    /// batches (stopping early when the loss explodes), records the smoothed loss, and suggests the rate
    /// of steepest descent. It takes fit's steps (penalties, clipping, frozen parameters, state); the model
    /// is not modified.
    let findLearningRate (o: FitOptions) (minLr: float) (maxLr: float) (steps: int) (model: Model) (x: Tensor) (y: Value) : LearningRateFinding =
        let train = feedOf "findLearningRate" "training" (DataSource.Tensors(x, y))
        let o = { o with Metrics = Inputs.metricsFor model (targetShape "training" train) o.Metrics }
        validate "findLearningRate" o model train None
        let o = { o with TerminateOnNaN = true }
        let t = trainer o model
        try
            let shuffleKey, stepKey = Rng.split (Rng.seed o.Seed)
            let loader = loaderOf o true shuffleKey model train
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
                        t.Optimizer.LearningRate <- lr
                        let batch = batches.Current
                        match step t scope (Rng.fold i stepKey) batch.Inputs (train.Targets(List.ofSeq batch.Targets)) with
                        | None -> exploded <- true
                        | Some(v, _) ->
                            avg <- 0.98 * avg + 0.02 * v
                            let smoothed = avg / (1.0 - 0.98 ** float (i + 1))
                            curve.Add((lr, smoothed))
                            best <- min best smoothed
                            if smoothed > 4.0 * best then exploded <- true
                            i <- i + 1
                epoch <- epoch + 1
            let pts = List.ofSeq curve
            if pts.IsEmpty then invalidOp (sprintf "findLearningRate: the loss was not finite at the first step (learning rate %g); check the data and the model" minLr)
            let suggested =
                if pts.Length < 3 then
                    fst (List.head pts)
                else
                    // Steepest descent of loss against log(lr), up to the minimum (the exploding tail is ignored).
                    let lowest = pts |> List.indexed |> List.minBy (snd >> snd) |> fst
                    let stable = List.take (lowest + 1) pts
                    if stable.Length < 2 then
                        fst (List.head pts)
                    else
                        stable |> List.pairwise |> List.minBy (fun ((l1, v1), (l2, v2)) -> (v2 - v1) / (log l2 - log l1)) |> fst |> fst
            { Curve = pts; Suggested = suggested }
        finally
            release t
