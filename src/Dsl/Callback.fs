namespace Dsl

open System
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Engine.Optim

/// What callbacks see and can do during `fit`.
type TrainingContext = {
    /// The model with the current parameters and state.
    Model: Model
    Optimizer: Optimizer
    /// 1-based epoch number.
    Epoch: int
    Epochs: int
    /// Epochs finished before this fit began: 0, or the epoch of the checkpoint it resumed from (Keras's initial_epoch).
    InitialEpoch: int
    /// Training batches per epoch.
    Batches: int
    /// Global step count (batches so far).
    Step: int64
    /// This epoch's logs (at epoch end; empty values before).
    Logs: EpochLogs
    /// The epochs finished before this one.
    History: EpochLogs list
    /// Asks fit to stop after this epoch.
    Stop: unit -> unit
    /// Copies the values of the given parameters and state into the live ones (same structure).
    Restore: Params -> Params -> unit
    /// The fit's options that matter (loss, metrics, batch size, epochs, seed, validation, augmentation,
    /// callbacks, ...), as name and value, for reports.
    Settings: (string * string) list
}

/// A callback: functions run at the hooks Keras users know — the start and end of training, of each epoch,
/// and of each training and test (validation) batch. Make one with `Callback.create` and set the hooks you
/// need: `{ Callback.create "mine" with OnEpochEnd = fun ctx -> printfn "%A" ctx.Logs }`.
type Callback = {
    Name: string
    OnTrainBegin: TrainingContext -> unit
    OnEpochBegin: TrainingContext -> unit
    OnTrainBatchBegin: TrainingContext -> BatchLogs -> unit
    OnTrainBatchEnd: TrainingContext -> BatchLogs -> unit
    OnTestBatchBegin: TrainingContext -> BatchLogs -> unit
    OnTestBatchEnd: TrainingContext -> BatchLogs -> unit
    OnEpochEnd: TrainingContext -> unit
    OnTrainEnd: TrainingContext -> unit
    /// The logged names the callback reads (its monitor, the names in a path template); `fit` checks them against
    /// the names it will log before the first epoch, and suggests the nearest for a typo.
    Monitors: string list
}

/// Whether a monitored metric should go down or up.
type MonitorMode =
    | Min
    | Max
    /// Max for names containing "acc", Min otherwise (Keras's mode="auto").
    | ByName

/// Options of `Callback.earlyStopping` (Keras's EarlyStopping).
type EarlyStopping = {
    /// The logged metric to watch.
    Monitor: string
    Mode: MonitorMode
    /// Epochs without improvement before training stops.
    Patience: int
    /// The smallest change that counts as an improvement.
    MinDelta: float
    /// At the end, put back the parameters and state of the best epoch.
    RestoreBestWeights: bool
    /// A value the metric must beat; until it does, epochs count as without improvement.
    Baseline: float option
    /// Epochs to train before watching (warm-up).
    StartFromEpoch: int
} with

    /// Keras's defaults: monitor val_loss, patience 0, no restore.
    static member Default = { Monitor = "val_loss"; Mode = ByName; Patience = 0; MinDelta = 0.0; RestoreBestWeights = false; Baseline = None; StartFromEpoch = 0 }

/// Options of `Callback.modelCheckpoint` (Keras's ModelCheckpoint).
type ModelCheckpoint = {
    /// A path template: {epoch} or {epoch:02d}, and any logged metric as {name} or {name:.4f}.
    Path: string
    /// The logged metric that decides "best" with SaveBestOnly.
    Monitor: string
    Mode: MonitorMode
    /// Save only when the monitored metric improves.
    SaveBestOnly: bool
} with

    /// Every epoch to checkpoints/epoch-{epoch:02d}.
    static member Default = { Path = "checkpoints/epoch-{epoch:02d}"; Monitor = "val_loss"; Mode = ByName; SaveBestOnly = false }

/// Options of `Callback.reduceLROnPlateau` (Keras's ReduceLROnPlateau).
type ReduceLROnPlateau = {
    Monitor: string
    Mode: MonitorMode
    /// The rate is multiplied by this.
    Factor: float
    /// Epochs without improvement before the rate is reduced.
    Patience: int
    /// The smallest change that counts as an improvement.
    MinDelta: float
    /// Epochs to wait after a reduction before watching again.
    Cooldown: int
    /// The rate never goes below this.
    MinLr: float
} with

    /// Keras's defaults: val_loss, factor 0.1, patience 10, min_delta 1e-4, no cooldown, min_lr 0.
    static member Default = { Monitor = "val_loss"; Mode = ByName; Factor = 0.1; Patience = 10; MinDelta = 1e-4; Cooldown = 0; MinLr = 0.0 }

/// The callbacks Keras users know, and custom ones from functions.
module Callback =
    let private none (_: TrainingContext) = ()
    let private noneBatch (_: TrainingContext) (_: BatchLogs) = ()

    /// A callback named `name` whose hooks do nothing; set the ones you need with `{ … with OnEpochEnd = … }`.
    let create (name: string) : Callback = {
        Name = name
        OnTrainBegin = none
        OnEpochBegin = none
        OnTrainBatchBegin = noneBatch
        OnTrainBatchEnd = noneBatch
        OnTestBatchBegin = noneBatch
        OnTestBatchEnd = noneBatch
        OnEpochEnd = none
        OnTrainEnd = none
        Monitors = []
    }

    /// A callback from an epoch-end function.
    let onEpochEnd (name: string) (f: TrainingContext -> unit) : Callback = { create name with OnEpochEnd = f }

    /// A callback from a train-batch-end function.
    let onTrainBatchEnd (name: string) (f: TrainingContext -> BatchLogs -> unit) : Callback = { create name with OnTrainBatchEnd = f }

    let private better (mode: MonitorMode) (monitor: string) (minDelta: float) =
        let isMax =
            match mode with
            | Max -> true
            | Min -> false
            | ByName -> monitor.Contains "acc"
        fun (current: float) (best: float) -> if isMax then current > best + minDelta else current < best - minDelta

    /// Tracks the best value of a monitored metric and how many epochs have passed without improvement.
    type private Plateau(mode: MonitorMode, monitor: string, minDelta: float, baseline: float option) =
        let improved = better mode monitor minDelta
        let mutable best = nan
        let mutable wait = 0
        member _.Reset() =
            best <- nan
            wait <- 0
        /// Records a value; true when it improves on the best so far (and on the baseline; the wait count restarts).
        member _.Observe(v: float) =
            // NaN (or infinity) is never an improvement: early stopping counts it as a bad epoch, best-only
            // checkpoints never save it, and it never becomes the best.
            let beatsBaseline =
                match baseline with
                | Some b -> improved v b
                | None -> true
            if Double.IsFinite v && beatsBaseline && (Double.IsNaN best || improved v best) then
                best <- v
                wait <- 0
                true
            else
                wait <- wait + 1
                false
        member _.Wait = wait
        member _.ClearWait() = wait <- 0

    let private monitored (monitor: string) (ctx: TrainingContext) =
        match ctx.Logs.TryGet monitor with
        | Some v -> v
        | None -> invalidOp (sprintf "callback: metric '%s' is not logged; logged metrics are %A" monitor (List.map fst ctx.Logs.Values))

    /// Stops when the monitored metric has not improved for `Patience` epochs (see `EarlyStopping`); with
    /// `RestoreBestWeights` the parameters and state of the best epoch are restored when training ends:
    /// `Callback.earlyStopping { EarlyStopping.Default with Patience = 3; RestoreBestWeights = true }`.
    let earlyStopping (o: EarlyStopping) : Callback =
        if o.Patience < 0 then invalidArg "Patience" (sprintf "earlyStopping: patience must be ≥ 0, got %d" o.Patience)
        let plateau = Plateau(o.Mode, o.Monitor, o.MinDelta, o.Baseline)
        let mutable snapshot: (Params * Params) option = None
        let clear () =
            snapshot
            |> Option.iter (fun (p, s) ->
                Params.dispose p
                Params.dispose s)
            snapshot <- None
        {
            create "EarlyStopping" with
                Monitors = [ o.Monitor ]
                OnTrainBegin =
                    fun _ ->
                        plateau.Reset()
                        clear ()
                OnEpochEnd =
                    fun ctx ->
                        if ctx.Epoch > o.StartFromEpoch then
                            if plateau.Observe(monitored o.Monitor ctx) then
                                if o.RestoreBestWeights then
                                    clear ()
                                    let keep (t: Params) = Tree.map (fun (x: Tensor) -> (use _ = Autograd.NoGrad() in x.Clone()).DetachFromScope()) t
                                    snapshot <- Some(keep ctx.Model.Params, keep ctx.Model.State)
                            elif plateau.Wait >= max 1 o.Patience then
                                ctx.Stop()
                OnTrainEnd =
                    fun ctx ->
                        match snapshot with
                        | Some(p, s) when o.RestoreBestWeights ->
                            ctx.Restore p s
                            clear ()
                        | _ -> clear ()
        }

    /// The logged names a path template reads ({val_loss:.2f} reads val_loss; {epoch} is not a logged name).
    let templateNames (template: string) : string list = [
        for m in Text.RegularExpressions.Regex.Matches(template, @"\{(\w+)(?::([^}]*))?\}") do
            if m.Groups.[1].Value <> "epoch" then yield m.Groups.[1].Value
    ]

    /// Fills a path template: {epoch} or {epoch:02d}, and any logged metric as {name} or {name:.4f}.
    let formatPath (template: string) (ctx: TrainingContext) =
        let values = ("epoch", float ctx.Epoch) :: ctx.Logs.Values
        Text.RegularExpressions.Regex.Replace(
            template,
            @"\{(\w+)(?::([^}]*))?\}",
            fun m ->
                match values |> List.tryFind (fst >> (=) m.Groups.[1].Value) with
                | None -> m.Value
                | Some(name, v) ->
                    let spec = m.Groups.[2].Value
                    if name = "epoch" then (int v).ToString(if spec.EndsWith "d" then "D" + spec.TrimEnd('d').TrimStart('0').PadLeft(1, '1') else "D")
                    elif spec.StartsWith "." && spec.EndsWith "f" then v.ToString("F" + spec.Substring(1, spec.Length - 2), Globalization.CultureInfo.InvariantCulture)
                    else v.ToString(Globalization.CultureInfo.InvariantCulture)
        )

    /// Saves a checkpoint (see `Checkpoint`) at each epoch end, or only when the monitored metric improves
    /// with `SaveBestOnly`: `Callback.modelCheckpoint { ModelCheckpoint.Default with Path = "ckpt/e{epoch:02d}" }`.
    let modelCheckpoint (o: ModelCheckpoint) : Callback =
        let plateau = Plateau(o.Mode, o.Monitor, 0.0, None)
        {
            create "ModelCheckpoint" with
                Monitors = (if o.SaveBestOnly then [ o.Monitor ] else []) @ templateNames o.Path
                OnTrainBegin = fun _ -> plateau.Reset()
                OnEpochEnd =
                    fun ctx ->
                        let save () =
                            Checkpoint.save (formatPath o.Path ctx) ctx.Model.Params ctx.Model.State (Some ctx.Optimizer) {
                                Epoch = ctx.Epoch
                                Step = ctx.Step
                                Optimizer = ctx.Optimizer.Name
                                History = ctx.History @ [ ctx.Logs ]
                            }
                        if not o.SaveBestOnly then save ()
                        elif plateau.Observe(monitored o.Monitor ctx) then save ()
        }

    /// Sets the learning rate at the start of each epoch from a schedule of the optimizer's initial rate; with
    /// parameter groups (FitOptions.ParamGroups), each group's rate from the schedule of its own initial rate, as
    /// PyTorch's schedulers scale each group's base rate.
    let learningRateScheduler (schedule: Schedule) : Callback =
        let mutable baseLrs: float[] = [||]
        {
            create "LearningRateScheduler" with
                OnTrainBegin = fun ctx -> baseLrs <- Array.ofSeq ctx.Optimizer.LearningRates
                OnEpochBegin = fun ctx -> baseLrs |> Array.iteri (fun g lr -> ctx.Optimizer.SetLearningRate(g, schedule.Rate lr (ctx.Epoch - 1)))
        }

    /// Multiplies the learning rate (each parameter group's) by `Factor` when the monitored metric has not improved for `Patience`
    /// epochs (see `ReduceLROnPlateau`): `Callback.reduceLROnPlateau { ReduceLROnPlateau.Default with Patience = 2 }`.
    let reduceLROnPlateau (o: ReduceLROnPlateau) : Callback =
        if not (o.Factor > 0.0 && o.Factor < 1.0) then invalidArg "Factor" (sprintf "reduceLROnPlateau: factor must lie in (0, 1), got %g" o.Factor)
        let plateau = Plateau(o.Mode, o.Monitor, o.MinDelta, None)
        let mutable cooldown = 0
        {
            create "ReduceLROnPlateau" with
                Monitors = [ o.Monitor ]
                OnTrainBegin =
                    fun _ ->
                        plateau.Reset()
                        cooldown <- 0
                OnEpochEnd =
                    fun ctx ->
                        let improved = plateau.Observe(monitored o.Monitor ctx)
                        if cooldown > 0 then
                            cooldown <- cooldown - 1
                            plateau.ClearWait()
                        elif not improved && plateau.Wait >= o.Patience then
                            for g in 0 .. ctx.Optimizer.GroupCount - 1 do
                                ctx.Optimizer.SetLearningRate(g, max o.MinLr (ctx.Optimizer.GetLearningRate g * o.Factor))
                            plateau.ClearWait()
                            cooldown <- o.Cooldown
        }

    /// Writes every epoch's logs to a CSV file (rewritten atomically after each epoch). A fit resumed from a checkpoint
    /// continues the checkpoint's history, so the file holds every epoch once, whenever training was interrupted.
    let csvLogger (path: string) : Callback = {
        create "CSVLogger" with
            OnEpochEnd =
                fun ctx ->
                    let rows = ctx.History @ [ ctx.Logs ]
                    let names = ctx.Logs.Values |> List.map fst
                    let fmt (v: float) = v.ToString("R", Globalization.CultureInfo.InvariantCulture)
                    let lines =
                        ("epoch," + String.Join(",", names) + ",lr,seconds")
                        :: [
                            for r in rows ->
                                string r.Epoch
                                + ","
                                + String.Join(",", names |> List.map (fun n -> r.TryGet n |> Option.map fmt |> Option.defaultValue ""))
                                + ","
                                + fmt r.LearningRate
                                + ","
                                + fmt r.Seconds
                        ]
                    AtomicFile.WriteAllText(path, String.Join("\n", lines) + "\n")
    }

/// The per-epoch history of a fit, recorded by an ordinary callback (Keras's History, which `fit` adds).
type History() =
    let epochs = Collections.Generic.List<EpochLogs>()

    /// The epochs recorded so far, in order.
    member _.Epochs: EpochLogs list = List.ofSeq epochs

    /// The callback that records each epoch's logs at its end (and forgets earlier fits at train begin).
    member _.Callback: Callback = {
        Callback.create "History" with
            OnTrainBegin = fun _ -> epochs.Clear()
            OnEpochEnd = fun ctx -> epochs.Add ctx.Logs
    }
