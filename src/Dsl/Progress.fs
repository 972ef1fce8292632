namespace Dsl

open System
open Spectre.Console

/// How `fit` reports progress.
type Verbosity =
    /// A live bar on a terminal; one line per epoch otherwise (redirected output, CI).
    | Auto
    /// A live Spectre.Console bar per epoch, with ETA, running loss and metrics.
    | Bar
    /// One plain line per epoch, Keras-style.
    | Lines
    /// Nothing.
    | Silent

/// Progress reporting for `fit`.
module Progress =
    /// True when output goes to an interactive terminal (not redirected, not CI).
    let isTerminal () =
        not Console.IsOutputRedirected && isNull (Environment.GetEnvironmentVariable "CI") && AnsiConsole.Profile.Capabilities.Interactive

    /// The epoch line: `Epoch 3/10 - 12.4s - loss: 0.3121 - accuracy: 0.8890 - val_loss: … - val_accuracy: …`.
    let epochLine (epoch: int) (epochs: int) (logs: EpochLogs) =
        let values = logs.Values |> List.map (fun (n, v) -> sprintf " - %s: %.4f" n v) |> String.concat ""
        sprintf "Epoch %d/%d - %.1fs%s" epoch epochs logs.Seconds values

    /// Runs one epoch's batches, reporting through a live bar or not at all; `batch` gets the batch index and
    /// returns the running description (loss and metrics so far).
    let runEpoch (verbosity: Verbosity) (epoch: int) (epochs: int) (batches: int) (batch: int -> string) =
        let live = match verbosity with Bar -> true | Auto -> isTerminal () | _ -> false
        if not live then
            for i in 0 .. batches - 1 do batch i |> ignore
        else
            AnsiConsole.Progress()
                .AutoClear(true)
                .Columns([| TaskDescriptionColumn() :> ProgressColumn; ProgressBarColumn(); PercentageColumn(); RemainingTimeColumn() |])
                .Start(fun ctx ->
                    let task = ctx.AddTask(sprintf "Epoch %d/%d" epoch epochs, maxValue = float batches)
                    for i in 0 .. batches - 1 do
                        let text = batch i
                        task.Description <- Markup.Escape(sprintf "Epoch %d/%d %s" epoch epochs text)
                        task.Increment 1.0)

    /// Prints an epoch's line unless silent.
    let report (verbosity: Verbosity) (epoch: int) (epochs: int) (logs: EpochLogs) =
        if verbosity <> Silent then
            Console.WriteLine(epochLine epoch epochs logs)
