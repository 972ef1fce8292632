namespace Dsl

open System
open System.IO
open System.Net
open System.Text
open System.Text.Json
open Dsl.Engine
open Dsl.Engine.IO

/// Options of `Report.callback`: the run's folder and title; for classifiers, the class names and labelled
/// samples (inputs, int64 labels; e.g. the test set or part of it) for the confusion matrix and, when the
/// inputs are images ([N, H, W], [N, 1, H, W] or [N, 3, H, W]), the prediction grid; how many predictions the grid shows; and whether the tables are printed at the end.
type ReportOptions = {
    Dir: string
    Title: string
    ClassNames: string list
    Examples: (Tensor * Tensor) option
    PredictionCount: int
    Print: bool
} with

    /// A report in `dir`, titled by the folder's name, no classifier pictures, 32 predictions, printed.
    static member In(dir: string) = {
        Dir = dir
        Title = string (Path.GetFileName(Path.TrimEndingDirectorySeparator dir))
        ClassNames = []
        Examples = None
        PredictionCount = 32
        Print = true
    }

/// One run's record, as `report.json` holds it (what `Report.compare` reads).
type RunRecord = { Name: string; Settings: (string * string) list; History: EpochLogs list }

/// An HTML report per run, rewritten after every epoch (atomically, so a browser can reload it while training
/// runs), and side-by-side comparisons of runs. A page is self-contained: no scripts, no network; its pictures
/// lie beside it.
module Report =
    let private html (s: string) = WebUtility.HtmlEncode s
    let private inv (v: float) = v.ToString("G6", Globalization.CultureInfo.InvariantCulture)

    let private table (header: string list) (rows: string list list) (id: string) =
        let sb = StringBuilder()
        sb.Append(sprintf "<table id=\"%s\"><thead><tr>" id) |> ignore
        for h in header do
            sb.Append("<th>" + html h + "</th>") |> ignore
        sb.Append("</tr></thead><tbody>\n") |> ignore
        for r in rows do
            sb.Append("<tr>" + String.Join("", r |> List.map (fun c -> "<td>" + html c + "</td>")) + "</tr>\n") |> ignore
        sb.Append("</tbody></table>\n").ToString()

    let private page (title: string) (body: string) =
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
        + html title
        + "</title>\n<style>body{font-family:'DejaVu Sans',sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}"
        + "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f0f0f0}td:first-child{text-align:left}"
        + "pre{background:#f7f7f7;padding:1em;overflow-x:auto}img{max-width:100%;border:1px solid #eee}</style></head>\n<body>\n"
        + body
        + "</body></html>\n"

    /// The names of a history's logged values, in order of first appearance.
    let private valueNames (history: EpochLogs list) = history |> List.collect (fun l -> l.Values |> List.map fst) |> List.distinct

    /// The history as (header, rows): epoch, each logged value, learning rate and seconds.
    let historyRows (history: EpochLogs list) : string list * string list list =
        let names = valueNames history
        ("epoch" :: names @ [ "lr"; "seconds" ]),
        [
            for l in history ->
                string l.Epoch :: (names |> List.map (fun n -> l.TryGet n |> Option.map inv |> Option.defaultValue ""))
                @ [ inv l.LearningRate; l.Seconds.ToString("F2", Globalization.CultureInfo.InvariantCulture) ]
        ]

    /// The machine the run trained on: cores, libtorch threads, libtorch version, device.
    let machine (device: Device) : (string * string) list = [
        "cores", string Environment.ProcessorCount
        "libtorch threads", string Torch.NumThreads
        "libtorch", Torch.LoadedVersion
        "device", string device
        "OS", Runtime.InteropServices.RuntimeInformation.OSDescription
        ".NET", Environment.Version.ToString()
    ]

    /// Writes a run's record as JSON (non-finite values as strings), atomically.
    let writeRecord (path: string) (r: RunRecord) =
        use ms = new MemoryStream()
        do
            use w = new Utf8JsonWriter(ms, JsonWriterOptions(Indented = true))
            let num (name: string) (v: float) =
                if Double.IsFinite v then w.WriteNumber(name, v) else w.WriteString(name, v.ToString(Globalization.CultureInfo.InvariantCulture))
            w.WriteStartObject()
            w.WriteString("name", r.Name)
            w.WriteStartObject "settings"
            for (k, v) in r.Settings do
                w.WriteString(k, v)
            w.WriteEndObject()
            w.WriteStartArray "history"
            for l in r.History do
                w.WriteStartObject()
                w.WriteNumber("epoch", l.Epoch)
                num "lr" l.LearningRate
                num "seconds" l.Seconds
                w.WriteStartObject "values"
                for (k, v) in l.Values do
                    num k v
                w.WriteEndObject()
                w.WriteEndObject()
            w.WriteEndArray()
            w.WriteEndObject()
        AtomicFile.Write(path, fun s -> ms.WriteTo s)

    /// Reads a run's record written by `writeRecord`; fails naming the file and what is wrong.
    let readRecord (path: string) : RunRecord =
        if not (File.Exists path) then
            invalidArg "path" (sprintf "Report.readRecord: '%s' does not exist; a run's folder holds report.json once Report.callback has written an epoch" path)
        try
            use doc = JsonDocument.Parse(File.ReadAllText path)
            let root = doc.RootElement
            let num (e: JsonElement) =
                if e.ValueKind = JsonValueKind.String then Double.Parse(e.GetString() |> string, Globalization.CultureInfo.InvariantCulture) else e.GetDouble()
            {
                Name = root.GetProperty("name").GetString() |> string
                Settings = [ for p in root.GetProperty("settings").EnumerateObject() -> p.Name, string (p.Value.GetString()) ]
                History = [
                    for e in root.GetProperty("history").EnumerateArray() ->
                        {
                            Epoch = e.GetProperty("epoch").GetInt32()
                            LearningRate = num (e.GetProperty "lr")
                            Seconds = num (e.GetProperty "seconds")
                            Values = [ for p in e.GetProperty("values").EnumerateObject() -> p.Name, num p.Value ]
                        }
                ]
            }
        with
        | :? JsonException
        | :? InvalidOperationException
        | :? Collections.Generic.KeyNotFoundException as e -> invalidArg "path" (sprintf "Report.readRecord: '%s' is not a run record (%s)" path e.Message)

    // ---------------------------------------------------------------- the terminal

    let private spectreTable (title: string) (header: string list) (rows: string list list) =
        let t = Spectre.Console.Table()
        t.Title <- Spectre.Console.TableTitle(Spectre.Console.Markup.Escape title)
        for h in header do
            t.AddColumn(Spectre.Console.TableColumn(Spectre.Console.Markup.Escape h)) |> ignore
        for r in rows do
            Spectre.Console.TableExtensions.AddRow(t, r |> List.map Spectre.Console.Markup.Escape |> Array.ofList) |> ignore
        Spectre.Console.AnsiConsole.Write t

    /// Prints the history as a table in the terminal.
    let printHistory (history: EpochLogs list) =
        if history.IsEmpty then invalidArg "history" "Report.printHistory: the history is empty (no epoch finished)"
        let header, rows = historyRows history
        spectreTable "history" header rows

    /// Prints the confusion matrix (counts; rows true, columns predicted) and its most-confused pairs.
    let printConfusion (c: Confusion) =
        let c = Confusion.create c.Classes c.Counts
        let n = c.Classes.Length
        spectreTable (sprintf "confusion matrix (rows true, columns predicted; accuracy %.2f%%)" (100.0 * c.Accuracy)) ("" :: c.Classes) [
            for t in 0 .. n - 1 -> c.Classes.[t] :: [ for p in 0 .. n - 1 -> string c.Counts.[t, p] ]
        ]
        for (t, p, count, share) in c.MostConfused 5 do
            Console.WriteLine(sprintf "  %s → %s: %d (%.1f%% of %s)" t p count (100.0 * share) t)

    // ---------------------------------------------------------------- one run

    /// What a report shows beyond the history.
    type private Extras = {
        Summary: string
        Settings: (string * string) list
        Optimizer: string
        Machine: (string * string) list
        Confusion: Confusion option
        Restored: int option
        Finished: string option
    }

    /// Writes report.html, report.json and the pictures of one run into `o.Dir`.
    let private writeRun (o: ReportOptions) (model: Model) (history: EpochLogs list) (x: Extras) =
        let file name = Path.Combine(o.Dir, name)
        let stamp = history |> List.tryLast |> Option.map (fun l -> l.Epoch) |> Option.defaultValue 0
        Plot.historyWith { HistoryPlot.Default with Restored = x.Restored } (file "history.png") history
        let confusion =
            match x.Confusion with
            | Some c ->
                Plot.confusionMatrixWith (max 420 (60 * c.Classes.Length)) (file "confusion.png") c
                let pairs = c.MostConfused 10 |> List.map (fun (t, p, k, s) -> [ t; p; string k; sprintf "%.1f%%" (100.0 * s) ])
                sprintf "<h2>Confusion matrix</h2>\n<img id=\"confusion\" src=\"confusion.png?e=%d\" alt=\"confusion matrix\">\n" stamp
                + table [ "true"; "predicted"; "count"; "share of true" ] pairs "confused"
            | None -> ""
        let predictions =
            match o.Examples with
            | Some(xs, ys) when not o.ClassNames.IsEmpty && (xs.Dim = 3 || (xs.Dim = 4 && (xs.Size 1 = 1L || xs.Size 1 = 3L))) ->
                use _ = DisposeScope.Enter()
                let k = int (min (int64 o.PredictionCount) (xs.Size 0))
                let images, labels = xs.Narrow(0L, 0L, int64 k), ys.Narrow(0L, 0L, int64 k)
                let preds = Predictions.ofModel model images labels
                Plot.predictions (file "predictions.png") o.ClassNames images preds
                sprintf
                    "<h2>Predictions</h2>\n<p>The first %d samples; wrong predictions are framed in red (%d of %d).</p>\n<img id=\"predictions\" src=\"predictions.png?e=%d\" alt=\"predictions\">\n"
                    k
                    (preds |> List.filter (fun p -> p.Actual <> p.Predicted) |> List.length)
                    k
                    stamp
            | _ -> ""
        let header, rows = historyRows history
        let last = List.last history
        let seconds = history |> List.map _.Seconds
        let body =
            StringBuilder()
                .Append(sprintf "<h1>%s</h1>\n" (html o.Title))
                .Append(
                    sprintf
                        "<p>%s: %d epochs, %.2f s per epoch on average (%.1f s in all). Written %s.</p>\n"
                        (x.Finished |> Option.defaultValue "training")
                        history.Length
                        (List.average seconds)
                        (List.sum seconds)
                        (DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss", Globalization.CultureInfo.InvariantCulture))
                )
                .Append("<h2>Final metrics</h2>\n")
                .Append(table [ "metric"; "value" ] [ for (k, v) in last.Values -> [ k; inv v ] ] "final")
                .Append(sprintf "<h2>Curves</h2>\n<img id=\"curves\" src=\"history.png?e=%d\" alt=\"training curves\">\n" stamp)
                .Append(confusion)
                .Append(predictions)
                .Append("<h2>History</h2>\n")
                .Append(table header rows "history")
                .Append("<h2>Options</h2>\n")
                .Append(table [ "option"; "value" ] ([ "optimizer"; x.Optimizer ] :: [ for (k, v) in x.Settings -> [ k; v ] ]) "options")
                .Append("<h2>Machine</h2>\n")
                .Append(table [ "what"; "value" ] [ for (k, v) in x.Machine -> [ k; v ] ] "machine")
                .Append("<h2>Model</h2>\n<pre id=\"summary\">" + html x.Summary + "</pre>\n")
                .ToString()
        writeRecord (file "report.json") { Name = o.Title; Settings = ("optimizer", x.Optimizer) :: x.Settings; History = history }
        AtomicFile.WriteAllText(file "report.html", page o.Title body)

    let private fingerprint (p: Params) =
        use _ = DisposeScope.Enter()
        Tree.leaves p |> List.sumBy (fun t -> let d = t.To(DType.Float64) in d.Sum().ToDouble() + 0.5 * d.Square().Sum().ToDouble())

    /// A callback that writes `report.html` into `o.Dir` after every epoch (and at the end): the curves, the
    /// final metrics, the confusion matrix and a prediction grid for classifiers (from `o.Examples`), the
    /// history with the time per epoch, the options, the machine and the model summary; and `report.json`,
    /// which `Report.compare` reads. The folder is created. Put it after `Callback.earlyStopping` in the list so
    /// that the restored epoch is marked. (A `Report` module rather than `Callback.report`: Callback.fs compiles
    /// before training, plots and this file.)
    let callback (o: ReportOptions) : Callback =
        if String.IsNullOrWhiteSpace o.Dir then invalidArg "Dir" "Report.callback: the folder is empty; give one, e.g. \"runs/mlp\""
        if o.PredictionCount < 1 then invalidArg "PredictionCount" (sprintf "Report.callback: PredictionCount must be ≥ 1, got %d" o.PredictionCount)
        match o.Examples with
        | Some(x, y) when x.Size 0 <> y.Size 0 -> invalidArg "Examples" (sprintf "Report.callback: %d example inputs but %d labels" (x.Size 0) (y.Size 0))
        | Some _ when o.ClassNames.IsEmpty -> invalidArg "ClassNames" "Report.callback: examples were given without class names; give one name per class"
        | _ -> ()
        let prints = Collections.Generic.List<int * float>()
        let mutable confusion = None
        let extras (ctx: TrainingContext) (restored: int option) (finished: string option) =
            let c =
                match o.Examples with
                | Some(x, y) ->
                    let cm = Confusion.ofPredictions o.ClassNames (Predictions.ofModel ctx.Model x y)
                    confusion <- Some cm
                    Some cm
                | None -> None
            {
                Summary = Summary.render ctx.Model
                Settings = ctx.Settings
                Optimizer = ctx.Optimizer.Name + " (" + String.Join(", ", ctx.Optimizer.HyperParameters |> Seq.map (fun kv -> sprintf "%s %g" kv.Key kv.Value)) + ")"
                Machine = machine ctx.Model.Device
                Confusion = c
                Restored = restored
                Finished = finished
            }
        {
            Callback.create "Report" with
                OnTrainBegin =
                    fun _ ->
                        Directory.CreateDirectory o.Dir |> ignore
                        prints.Clear()
                OnEpochEnd =
                    fun ctx ->
                        prints.Add((ctx.Epoch, fingerprint ctx.Model.Params))
                        writeRun o ctx.Model (ctx.History @ [ ctx.Logs ]) (extras ctx None None)
                OnTrainEnd =
                    fun ctx ->
                        let history = ctx.History
                        if not history.IsEmpty then
                            let now = fingerprint ctx.Model.Params
                            let restored =
                                match List.ofSeq prints |> List.rev with
                                | (_, last) :: earlier when last <> now -> earlier |> List.tryFind (fun (_, f) -> f = now) |> Option.map fst
                                | _ -> None
                            let finished =
                                match restored with
                                | Some e -> sprintf "finished, weights of epoch %d restored" e
                                | None -> "finished"
                            writeRun o ctx.Model history (extras ctx restored (Some finished))
                            if o.Print then
                                printHistory history
                                confusion |> Option.iter printConfusion
                                Console.WriteLine(sprintf "report: %s" (Path.GetFullPath(Path.Combine(o.Dir, "report.html"))))
        }

    // ---------------------------------------------------------------- several runs

    /// Lays several runs (their folders, each holding the report.json of `Report.callback`) side by side in
    /// the page `path` (.html): a table sorted by the final value of `metric` (best first: highest for names
    /// containing "acc", lowest otherwise) and, beside the page, one chart per quantity with every run's
    /// curves on shared axes (validation where logged, else training).
    let compare (path: string) (metric: string) (runs: string list) =
        if runs.IsEmpty then invalidArg "runs" "Report.compare: no runs given; give the folders of runs that Report.callback wrote"
        if not (path.EndsWith(".html", StringComparison.OrdinalIgnoreCase)) then invalidArg "path" (sprintf "Report.compare: '%s' should end in .html" path)
        let dir = Path.GetDirectoryName(Path.GetFullPath path) |> string
        if not (Directory.Exists dir) then invalidArg "path" (sprintf "Report.compare: the folder '%s' does not exist; create it first" dir)
        let records = runs |> List.map (fun r -> r, readRecord (Path.Combine(r, "report.json")))
        for (r, rec') in records do
            if rec'.History.IsEmpty then invalidArg "runs" (sprintf "Report.compare: the run in '%s' has no epochs" r)
            if (List.last rec'.History).TryGet(metric).IsNone then
                invalidArg "metric" (sprintf "Report.compare: the run in '%s' did not log '%s'; it logged %s" r metric (String.Join(", ", valueNames rec'.History)))
        let final (r: RunRecord) = (List.last r.History).TryGet(metric) |> Option.defaultValue nan
        let higher = metric.Contains "acc"
        let sorted =
            records
            |> List.sortBy (fun (_, r) ->
                let v = final r in
                if Double.IsNaN v then infinity
                elif higher then -v
                else v)
        let names = sorted |> List.collect (fun (_, r) -> valueNames r.History) |> List.distinct
        let rows = [
            for (dir, r) in sorted ->
                let last = List.last r.History
                r.Name :: (names |> List.map (fun n -> last.TryGet n |> Option.map inv |> Option.defaultValue ""))
                @ [ string r.History.Length; (r.History |> List.averageBy _.Seconds).ToString("F2", Globalization.CultureInfo.InvariantCulture); dir ]
        ]
        let stem = Path.GetFileNameWithoutExtension path
        let palette = [| "#1f77b4"; "#ff7f0e"; "#2ca02c"; "#d62728"; "#9467bd"; "#8c564b"; "#e377c2"; "#7f7f7f"; "#bcbd22"; "#17becf" |]
        let charts = [
            for q in Plot.quantities (sorted |> List.collect (snd >> _.History)) ->
                let series =
                    sorted
                    |> List.mapi (fun i (_, r) ->
                        let key = if r.History |> List.exists (fun l -> (l.TryGet("val_" + q)).IsSome) then "val_" + q else q
                        {
                            Label = sprintf "%s (%s)" r.Name key
                            Points = [
                                for l in r.History do
                                    match l.TryGet key with
                                    | Some v -> float l.Epoch, v
                                    | None -> ()
                            ]
                            Style = LineAndMarkers
                            Color = Some palette.[i % palette.Length]
                        })
                let file = sprintf "%s-%s.png" stem q
                let chart = Charts.lines { LinesPlot.Default with Title = q; XLabel = "epoch"; YLabel = q } series
                Charts.integerX chart
                Charts.save "Report.compare" (Path.Combine(dir, file)) 640 420 [ chart ]
                sprintf "<img src=\"%s\" alt=\"%s\">\n" (html file) (html q)
        ]
        let body =
            sprintf "<h1>%d runs by %s</h1>\n" records.Length (html metric)
            + table ("run" :: names @ [ "epochs"; "s/epoch"; "folder" ]) rows "runs"
            + "<h2>Curves</h2>\n"
            + String.Join("", charts)
        AtomicFile.WriteAllText(path, page (sprintf "runs by %s" metric) body)
