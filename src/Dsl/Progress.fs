namespace Dsl

open System
open System.Diagnostics

/// How `fit` reports progress.
type Verbosity =
    /// A live bar on a terminal; one line per epoch otherwise (redirected output, CI).
    | Auto
    /// A live Keras-style bar per epoch (batches done, ETA, running loss and metrics), then the epoch's line.
    | Bar
    /// One plain line per epoch, Keras-style.
    | Lines
    /// Nothing.
    | Silent

/// Progress reporting for `fit`, as an ordinary callback (Keras's ProgbarLogger, which `fit` adds).
module Progress =
    /// True when output goes to an interactive terminal (not redirected, not CI).
    let isTerminal () = not Console.IsOutputRedirected && isNull (Environment.GetEnvironmentVariable "CI")

    /// The epoch line: `Epoch 3/10 - 12.4s - loss: 0.3121 - accuracy: 0.8890 - val_loss: … - val_accuracy: …`.
    let epochLine (epoch: int) (epochs: int) (logs: EpochLogs) =
        let values = logs.Values |> List.map (fun (n, v) -> sprintf " - %s: %.4f" n v) |> String.concat ""
        sprintf "Epoch %d/%d - %.1fs%s" epoch epochs logs.Seconds values

    /// The live bar's text: `Epoch 3/10  120/469 [=====>.............] - ETA: 7s - loss: 0.3121 - accuracy: 0.8890`.
    let barLine (epoch: int) (epochs: int) (done': int) (total: int) (elapsed: float) (values: (string * float) list) =
        let width = 20
        let filled = if total <= 0 then width else min width (done' * width / total)
        let bar = String('=', max 0 (filled - 1)) + (if filled > 0 then (if done' >= total then "=" else ">") else "") + String('.', width - filled)
        let eta = if done' > 0 then elapsed / float done' * float (total - done') else nan
        let etaText = if Double.IsNaN eta then "" else sprintf " - ETA: %.0fs" eta
        let metrics = values |> List.map (fun (n, v) -> sprintf " - %s: %.4f" n v) |> String.concat ""
        sprintf "Epoch %d/%d  %d/%d [%s]%s%s" epoch epochs done' total bar etaText metrics

    /// The progress callback for a verbosity: nothing (Silent), one line per epoch (Lines, or Auto when the
    /// output is not a terminal), or a bar redrawn at most ten times a second and replaced by the epoch's line.
    let callback (verbosity: Verbosity) : Callback =
        let live =
            match verbosity with
            | Bar -> true
            | Auto -> isTerminal ()
            | _ -> false
        match verbosity with
        | Silent -> Callback.create "ProgbarLogger"
        | _ when not live -> { Callback.create "ProgbarLogger" with OnEpochEnd = fun ctx -> Console.WriteLine(epochLine ctx.Epoch ctx.Epochs ctx.Logs) }
        | _ ->
            let watch = Stopwatch()
            let mutable lastDraw = 0L
            let clear () = Console.Write("\r\u001b[2K")
            {
                Callback.create "ProgbarLogger" with
                    OnEpochBegin =
                        fun _ ->
                            watch.Restart()
                            lastDraw <- -1000L
                    OnTrainBatchEnd =
                        fun ctx logs ->
                            let now = watch.ElapsedMilliseconds
                            if now - lastDraw >= 100L || logs.Batch + 1 = ctx.Batches then
                                lastDraw <- now
                                clear ()
                                Console.Write(barLine ctx.Epoch ctx.Epochs (logs.Batch + 1) ctx.Batches watch.Elapsed.TotalSeconds logs.Values)
                    OnEpochEnd =
                        fun ctx ->
                            clear ()
                            Console.WriteLine(epochLine ctx.Epoch ctx.Epochs ctx.Logs)
            }
