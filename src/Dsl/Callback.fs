namespace Dsl

open System
open Dsl.Engine
open Dsl.Engine.IO
open Dsl.Engine.Optim

/// One epoch's results: metric values by name (loss, accuracy, val_loss, val_accuracy, ...), its wall
/// time and its learning rate.
type EpochLogs =
    { Epoch: int
      Values: (string * float) list
      Seconds: float
      LearningRate: float }

    /// The value of a metric, if it was logged.
    member this.TryGet(name: string) = this.Values |> List.tryFind (fst >> (=) name) |> Option.map snd

/// What callbacks see and can do during `fit`.
type TrainingContext =
    { /// The model with the current parameters and state.
      Model: Model
      Optimizer: Optimizer
      /// 1-based epoch number.
      Epoch: int
      Epochs: int
      /// Global step count (batches so far).
      Step: int64
      /// This epoch's logs (at epoch end; empty values at epoch begin).
      Logs: EpochLogs
      History: EpochLogs list
      /// Asks fit to stop after this epoch.
      Stop: unit -> unit
      /// Copies the values of the given parameters and state into the live ones (same structure).
      Restore: Params -> Params -> unit }

/// A callback: functions run at the start and end of training and of each epoch.
type Callback =
    { Name: string
      OnTrainBegin: TrainingContext -> unit
      OnEpochBegin: TrainingContext -> unit
      OnEpochEnd: TrainingContext -> unit
      OnTrainEnd: TrainingContext -> unit }

/// Whether a monitored metric should go down or up.
type MonitorMode =
    | Min
    | Max
    /// Max for names containing "acc", Min otherwise (Keras's mode="auto").
    | ByName

/// The callbacks Keras users know, and custom ones from functions.
module Callback =
    let private none (_: TrainingContext) = ()

    /// A callback from an epoch-end function.
    let onEpochEnd (name: string) (f: TrainingContext -> unit) : Callback =
        { Name = name; OnTrainBegin = none; OnEpochBegin = none; OnEpochEnd = f; OnTrainEnd = none }

    let private better (mode: MonitorMode) (monitor: string) (minDelta: float) =
        let isMax = match mode with Max -> true | Min -> false | ByName -> monitor.Contains "acc"
        fun (current: float) (best: float) -> if isMax then current > best + minDelta else current < best - minDelta

    /// Tracks the best value of a monitored metric and how many epochs have passed without improvement.
    type private Plateau(mode: MonitorMode, monitor: string, minDelta: float) =
        let improved = better mode monitor minDelta
        let mutable best = nan
        let mutable wait = 0
        member _.Reset() = best <- nan; wait <- 0
        /// Records a value; true when it improves on the best so far (the wait count restarts).
        member _.Observe(v: float) =
            if Double.IsNaN best || improved v best then best <- v; wait <- 0; true
            else wait <- wait + 1; false
        member _.Wait = wait
        member _.ClearWait() = wait <- 0

    let private monitored (monitor: string) (ctx: TrainingContext) =
        match ctx.Logs.TryGet monitor with
        | Some v -> v
        | None -> invalidOp (sprintf "callback: metric '%s' is not logged; logged metrics are %A" monitor (List.map fst ctx.Logs.Values))

    /// Stops when `monitor` has not improved by more than `minDelta` for `patience` epochs; with
    /// `restoreBest` the parameters and state of the best epoch are restored when training ends.
    let earlyStopping (monitor: string) (mode: MonitorMode) (patience: int) (minDelta: float) (restoreBest: bool) : Callback =
        let plateau = Plateau(mode, monitor, minDelta)
        let mutable snapshot : (Params * Params) option = None
        let clear () =
            snapshot |> Option.iter (fun (p, s) -> Params.dispose p; Params.dispose s)
            snapshot <- None
        { Name = "EarlyStopping"
          OnTrainBegin = fun _ -> plateau.Reset(); clear ()
          OnEpochBegin = none
          OnEpochEnd =
            fun ctx ->
                if plateau.Observe(monitored monitor ctx) then
                    if restoreBest then
                        clear ()
                        let keep (t: Params) = Tree.map (fun (x: Tensor) -> (use _ = Autograd.NoGrad() in x.Clone()).DetachFromScope()) t
                        snapshot <- Some(keep ctx.Model.Params, keep ctx.Model.State)
                elif plateau.Wait >= patience then ctx.Stop()
          OnTrainEnd =
            fun ctx ->
                match snapshot with
                | Some(p, s) when restoreBest -> ctx.Restore p s; clear ()
                | _ -> clear () }

    /// Fills a path template: {epoch} or {epoch:02d}, and any logged metric as {name} or {name:.4f}.
    let formatPath (template: string) (ctx: TrainingContext) =
        let values = ("epoch", float ctx.Epoch) :: ctx.Logs.Values
        Text.RegularExpressions.Regex.Replace(template, @"\{(\w+)(?::([^}]*))?\}", fun m ->
            match values |> List.tryFind (fst >> (=) m.Groups.[1].Value) with
            | None -> m.Value
            | Some(name, v) ->
                let spec = m.Groups.[2].Value
                if name = "epoch" then (int v).ToString(if spec.EndsWith "d" then "D" + spec.TrimEnd('d').TrimStart('0').PadLeft(1, '1') else "D")
                elif spec.StartsWith "." && spec.EndsWith "f" then v.ToString("F" + spec.Substring(1, spec.Length - 2), Globalization.CultureInfo.InvariantCulture)
                else v.ToString(Globalization.CultureInfo.InvariantCulture))

    /// Saves a checkpoint (see `Checkpoint`) at each epoch end, or only when `monitor` improves with `bestOnly`.
    let modelCheckpoint (pathTemplate: string) (monitor: string) (mode: MonitorMode) (bestOnly: bool) : Callback =
        let plateau = Plateau(mode, monitor, 0.0)
        { Name = "ModelCheckpoint"
          OnTrainBegin = fun _ -> plateau.Reset()
          OnEpochBegin = none
          OnEpochEnd =
            fun ctx ->
                let save () =
                    Checkpoint.save (formatPath pathTemplate ctx) ctx.Model.Params ctx.Model.State (Some ctx.Optimizer)
                        { Epoch = ctx.Epoch; Step = ctx.Step; Optimizer = ctx.Optimizer.Name }
                if not bestOnly then save ()
                elif plateau.Observe(monitored monitor ctx) then save ()
          OnTrainEnd = none }

    /// Sets the learning rate at the start of each epoch from a schedule of the optimizer's initial rate.
    let learningRateScheduler (schedule: Schedule) : Callback =
        let mutable baseLr = nan
        { Name = "LearningRateScheduler"
          OnTrainBegin = fun ctx -> baseLr <- ctx.Optimizer.LearningRate
          OnEpochBegin = fun ctx -> ctx.Optimizer.LearningRate <- schedule.Rate baseLr (ctx.Epoch - 1)
          OnEpochEnd = none
          OnTrainEnd = none }

    /// Multiplies the learning rate by `factor` when `monitor` has not improved for `patience` epochs (ReduceLROnPlateau).
    let reduceLROnPlateau (monitor: string) (factor: float) (patience: int) (minLr: float) : Callback =
        let plateau = Plateau(ByName, monitor, 1e-4)
        { Name = "ReduceLROnPlateau"
          OnTrainBegin = fun _ -> plateau.Reset()
          OnEpochBegin = none
          OnEpochEnd =
            fun ctx ->
                if not (plateau.Observe(monitored monitor ctx)) && plateau.Wait >= patience then
                    ctx.Optimizer.LearningRate <- max minLr (ctx.Optimizer.LearningRate * factor)
                    plateau.ClearWait()
          OnTrainEnd = none }

    /// Writes every epoch's logs to a CSV file (rewritten atomically after each epoch).
    let csvLogger (path: string) : Callback =
        { Name = "CSVLogger"
          OnTrainBegin = none
          OnEpochBegin = none
          OnEpochEnd =
            fun ctx ->
                let rows = ctx.History @ [ ctx.Logs ]
                let names = ctx.Logs.Values |> List.map fst
                let fmt (v: float) = v.ToString("R", Globalization.CultureInfo.InvariantCulture)
                let lines =
                    ("epoch," + String.Join(",", names) + ",lr,seconds")
                    :: [ for r in rows -> string r.Epoch + "," + String.Join(",", names |> List.map (fun n -> r.TryGet n |> Option.map fmt |> Option.defaultValue "")) + "," + fmt r.LearningRate + "," + fmt r.Seconds ]
                AtomicFile.WriteAllText(path, String.Join("\n", lines) + "\n")
          OnTrainEnd = none }
