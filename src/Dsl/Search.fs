namespace Dsl

open System
open System.Diagnostics
open System.Globalization
open System.IO
open Dsl.Engine

/// One hyper-parameter's range in a search space.
type Dimension =
    /// A real in [low, high] whose logarithm is uniform (learning rates, penalties); 0 < low ≤ high.
    | LogUniform of low: float * high: float
    /// A real uniform in [low, high].
    | Uniform of low: float * high: float
    /// One of the values, each equally likely.
    | Choice of values: string list
    /// An integer in [low, high], both included, each equally likely.
    | IntRange of low: int * high: int

/// A value drawn from a dimension.
type Drawn =
    /// From LogUniform or Uniform.
    | Real of float
    /// From Choice.
    | Text of string
    /// From IntRange.
    | Int of int

    /// The value as text for tables ("0.00123", "relu", "64").
    override this.ToString() =
        match this with
        | Real v -> v.ToString("G4", CultureInfo.InvariantCulture)
        | Text s -> s
        | Int i -> string i

/// A point of a search space: a value per dimension, in the space's order.
type Sample = {
    Values: (string * Drawn) list
} with

    member private this.Find(name: string) =
        match this.Values |> List.tryFind (fst >> (=) name) with
        | Some(_, v) -> v
        | None -> invalidArg "name" (sprintf "Sample: no dimension '%s'; the sample has %s" name (this.Values |> List.map fst |> String.concat ", "))

    /// A real dimension's value (LogUniform or Uniform; an IntRange's value converted).
    member this.Float(name: string) =
        match this.Find name with
        | Real v -> v
        | Int i -> float i
        | Text s -> invalidArg "name" (sprintf "Sample.Float: '%s' is a choice ('%s'), not a number; use Sample.Choice" name s)

    /// An IntRange dimension's value.
    member this.Int(name: string) =
        match this.Find name with
        | Int i -> i
        | other -> invalidArg "name" (sprintf "Sample.Int: '%s' is %O, not drawn from an IntRange" name other)

    /// A Choice dimension's value.
    member this.Choice(name: string) =
        match this.Find name with
        | Text s -> s
        | other -> invalidArg "name" (sprintf "Sample.Choice: '%s' is %O, not drawn from a Choice" name other)

    /// "lr=0.001, units=64".
    override this.ToString() = this.Values |> List.map (fun (k, v) -> sprintf "%s=%O" k v) |> String.concat ", "

/// How long a search runs: at most `Trials` trials, and no trial starts after `Seconds` (when given).
type Budget = { Trials: int; Seconds: float option }

/// The options of `Search.random`.
type SearchOptions = {
    /// Seeds the draws: trial i's sample depends on the seed and i only (not on the budget).
    Seed: int64
    Budget: Budget
    /// The logged quantity that scores a trial (its best epoch), and whether higher is better (MonitorMode.ByName:
    /// names containing "acc" are maximised).
    Monitor: string
    Mode: MonitorMode
    /// Early stopping on `Monitor`: epochs without improvement before a trial stops (the best weights are kept).
    Patience: int
    /// When given, each trial writes its report (Report.callback) to <ReportDir>/trial_NN and the search writes
    /// <ReportDir>/compare.html (Report.compare) over them.
    ReportDir: string option
} with

    /// 10 trials, no time limit, seed 0, val_accuracy with patience 3, no reports.
    static member Default = { Seed = 0L; Budget = { Trials = 10; Seconds = None }; Monitor = "val_accuracy"; Mode = MonitorMode.ByName; Patience = 3; ReportDir = None }

/// One trial of a search: its sample, its score (the best epoch's monitored value), the final logs of that epoch,
/// epochs trained, wall time, and its report folder.
type Trial = { Index: int; Sample: Sample; Score: float; Best: EpochLogs; Epochs: int; Seconds: float; ReportDir: string option }

/// A search's trials (best first) and what it searched.
type SearchResult = {
    Space: (string * Dimension) list
    Monitor: string
    Higher: bool
    /// Best first.
    Trials: Trial list
    /// The Report.compare page, when the options gave a ReportDir.
    ComparePage: string option
} with

    /// The best trial.
    member this.BestTrial = List.head this.Trials

/// The result of `Search.kfold`: one score per fold (the best epoch's monitored value on that fold's validation part).
type FoldScores = {
    Scores: float list
} with

    /// The mean over the folds.
    member this.Mean = List.average this.Scores

    /// The sample standard deviation over the folds (0 for one fold).
    member this.Std =
        let m = this.Mean
        let n = this.Scores.Length
        if n < 2 then 0.0 else sqrt ((this.Scores |> List.sumBy (fun s -> (s - m) ** 2.0)) / float (n - 1))

/// Random search over a space (seeded, a budget of trials or time, each trial trained with early stopping),
/// coarse-to-fine narrowing, and k-fold cross-validation.
module Search =
    /// A 31-bit seed from (seed, i, salt): the engine's SplitMix mixer (stable across runs, unlike HashCode).
    let private mix (seed: int64) (i: int) (salt: uint64) = int (SplitMix.Mix(seed, int64 i, int64 salt) &&& 0x7fffffffL)

    let private check (name: string) (d: Dimension) =
        let bad fmt = Printf.kprintf (fun s -> invalidArg "space" (sprintf "Search: dimension '%s' %s" name s)) fmt
        match d with
        | LogUniform(lo, hi) -> if not (lo > 0.0 && lo <= hi && Double.IsFinite hi) then bad "is LogUniform(%g, %g); it needs 0 < low ≤ high (finite)" lo hi
        | Uniform(lo, hi) -> if not (Double.IsFinite lo && Double.IsFinite hi && lo <= hi) then bad "is Uniform(%g, %g); it needs finite low ≤ high" lo hi
        | Choice [] -> bad "is a Choice of nothing; give at least one value"
        | Choice _ -> ()
        | IntRange(lo, hi) -> if lo > hi then bad "is IntRange(%d, %d); it needs low ≤ high" lo hi

    /// Checks a space: every dimension well formed and every name distinct.
    let validate (space: (string * Dimension) list) =
        if space.IsEmpty then invalidArg "space" "Search: the space has no dimensions"
        match space |> List.countBy fst |> List.tryFind (fun (_, n) -> n > 1) with
        | Some(name, n) -> invalidArg "space" (sprintf "Search: dimension '%s' appears %d times; names must be distinct" name n)
        | None -> ()
        for name, d in space do
            check name d

    /// One draw from a dimension.
    let draw (r: Random) (d: Dimension) : Drawn =
        match d with
        | LogUniform(lo, hi) -> Real(Math.Clamp(exp (log lo + r.NextDouble() * (log hi - log lo)), lo, hi))
        | Uniform(lo, hi) -> Real(Math.Clamp(lo + r.NextDouble() * (hi - lo), lo, hi))
        | Choice vs -> Text vs.[r.Next vs.Length]
        | IntRange(lo, hi) -> Int(int (int64 lo + r.NextInt64(int64 hi - int64 lo + 1L)))

    /// Trial i's sample: the same for the same seed and i, whatever the budget.
    let sample (seed: int64) (i: int) (space: (string * Dimension) list) : Sample =
        validate space
        let r = Random(mix seed i 0x5ea7c4UL)
        { Values = space |> List.map (fun (name, d) -> name, draw r d) }

    let private higherFor (mode: MonitorMode) (monitor: string) =
        match mode with
        | Max -> true
        | Min -> false
        | ByName -> monitor.Contains "acc"

    /// Trains one configuration with early stopping on `monitor` (best weights restored); returns the trained model,
    /// the best epoch's logs and the epochs trained.
    let private trainOne (monitor: string) (mode: MonitorMode) (patience: int) (report: (string * string) option) (model: Model) (o: FitOptions) (data: DataSource) =
        let stop = Callback.earlyStopping { EarlyStopping.Default with Monitor = monitor; Mode = mode; Patience = patience; RestoreBestWeights = true }
        let reports =
            match report with
            | Some(dir, title) -> [ Report.callback { ReportOptions.In dir with Title = title; Print = false } ]
            | None -> []
        let trained = Training.fitData { o with Callbacks = o.Callbacks @ [ stop ] @ reports } model data
        let higher = higherFor mode monitor
        let scored = trained.History |> List.filter (fun l -> (l.TryGet monitor).IsSome)
        if scored.IsEmpty then
            Model.dispose trained.Model
            invalidArg
                "monitor"
                (sprintf
                    "Search: the trials did not log '%s' (give validation data or ValidationSplit for val_ quantities); they logged %s"
                    monitor
                    (trained.History |> List.collect (fun l -> List.map fst l.Values) |> List.distinct |> String.concat ", "))
        let best = scored |> (if higher then List.maxBy else List.minBy) (fun l -> (l.TryGet monitor).Value)
        trained, best

    /// Random search: draws trial after trial from `space` (seeded), builds each with `configure` (the sample's model
    /// and fit options; ValidationSplit or ValidationData must give the monitored quantity), trains it with early
    /// stopping on `o.Monitor` and scores it by its best epoch, until the budget of trials or time is spent (a
    /// started trial finishes). Each trial's models (configure's and the trained one) are freed; the trials come back best first.
    let randomOn (o: SearchOptions) (space: (string * Dimension) list) (configure: Sample -> Model * FitOptions) (data: DataSource) : SearchResult =
        validate space
        if o.Budget.Trials < 1 then invalidArg "o" (sprintf "Search: a budget of %d trials runs nothing; give at least 1" o.Budget.Trials)
        let clock = Stopwatch.StartNew()
        let higher = higherFor o.Mode o.Monitor
        let trials = ResizeArray<Trial>()
        let mutable i = 0
        let timeLeft () =
            match o.Budget.Seconds with
            | Some s -> clock.Elapsed.TotalSeconds < s
            | None -> true
        while i < o.Budget.Trials && (i = 0 || timeLeft ()) do
            let s = sample o.Seed i space
            let model, fo = configure s
            let watch = Stopwatch.StartNew()
            let dir = o.ReportDir |> Option.map (fun d -> Path.Combine(d, sprintf "trial_%02d" i))
            let trained, best =
                try
                    trainOne o.Monitor o.Mode o.Patience (dir |> Option.map (fun d -> d, sprintf "trial %d: %O" i s)) model fo data
                finally
                    Model.dispose model
            Model.dispose trained.Model
            trials.Add {
                Index = i
                Sample = s
                Score = (best.TryGet o.Monitor).Value
                Best = best
                Epochs = trained.History.Length
                Seconds = watch.Elapsed.TotalSeconds
                ReportDir = dir
            }
            i <- i + 1
        let sorted = trials |> List.ofSeq |> List.sortBy (fun t -> if higher then -t.Score else t.Score)
        let page =
            o.ReportDir
            |> Option.map (fun d ->
                let path = Path.Combine(d, "compare.html")
                Report.compare path o.Monitor (sorted |> List.choose _.ReportDir)
                path)
        { Space = space; Monitor = o.Monitor; Higher = higher; Trials = sorted; ComparePage = page }

    /// Random search on tensors in memory (see `randomOn`).
    let random (o: SearchOptions) (space: (string * Dimension) list) (configure: Sample -> Model * FitOptions) (x: Tensor) (y: Value) : SearchResult =
        randomOn o space configure (DataSource.Tensors(x, y))

    /// The space narrowed around the `top` best trials (the coarse-to-fine step): each real or integer dimension
    /// shrinks to the range those trials span (in log space for LogUniform, so the new range is their [min, max]),
    /// each choice to the values they used; a dimension where they agree collapses to that value.
    let narrow (top: int) (result: SearchResult) : (string * Dimension) list =
        if top < 1 then invalidArg "top" (sprintf "Search.narrow: top %d keeps no trial; give at least 1" top)
        let best = result.Trials |> List.truncate top |> List.map _.Sample
        result.Space
        |> List.map (fun (name, d) ->
            let reals () = best |> List.map (fun s -> s.Float name)
            name,
            match d with
            | LogUniform _ -> LogUniform(List.min (reals ()), List.max (reals ()))
            | Uniform _ -> Uniform(List.min (reals ()), List.max (reals ()))
            | IntRange _ -> (let vs = best |> List.map (fun s -> s.Int name) in IntRange(List.min vs, List.max vs))
            | Choice vs -> (let used = best |> List.map (fun s -> s.Choice name) |> Set.ofList in Choice(vs |> List.filter used.Contains)))

    /// Coarse-to-fine, as seed 004 searched: a first round over `space`, then a second in the space narrowed around
    /// the first round's `top` trials (drawn from a seed of its own). Returns both rounds.
    let coarseToFine (o: SearchOptions) (top: int) (space: (string * Dimension) list) (configure: Sample -> Model * FitOptions) (x: Tensor) (y: Value) =
        let coarse = random { o with ReportDir = o.ReportDir |> Option.map (fun d -> Path.Combine(d, "coarse")) } space configure x y
        let fine = random { o with Seed = o.Seed + 1L; ReportDir = o.ReportDir |> Option.map (fun d -> Path.Combine(d, "fine")) } (narrow top coarse) configure x y
        coarse, fine

    /// The search's trials as a text table, best first: rank, trial, each dimension, the score, epochs, seconds.
    let table (r: SearchResult) : string =
        let names = r.Space |> List.map fst
        let header = [ "rank"; "trial" ] @ names @ [ r.Monitor; "epochs"; "time" ]
        let rows = [
            for rank, t in List.indexed r.Trials ->
                [ string (rank + 1); string t.Index ]
                @ (t.Sample.Values |> List.map (snd >> string))
                @ [ t.Score.ToString("F4", CultureInfo.InvariantCulture); string t.Epochs; sprintf "%.1f s" t.Seconds ]
        ]
        let widths = header |> List.mapi (fun j h -> rows |> List.map (fun row -> row.[j].Length) |> List.fold max h.Length)
        let line (cells: string list) = List.map2 (fun (c: string) w -> c.PadRight w) cells widths |> String.concat "  "
        String.concat "\n" (line header :: String('-', List.sum widths + 2 * (widths.Length - 1)) :: List.map line rows)

    /// The k folds of n samples (seeded shuffle, sizes differing by at most 1): for each fold, the training indices
    /// and the validation indices. The validation parts partition 0 … n−1.
    let folds (k: int) (seed: int64) (n: int) : (int[] * int[]) list =
        if k < 2 then invalidArg "k" (sprintf "Search.kfold: k = %d; cross-validation needs k ≥ 2 folds" k)
        if n < k then invalidArg "n" (sprintf "Search.kfold: %d samples cannot fill %d folds; give k ≤ n" n k)
        let order = Array.init n id
        Random(mix seed k 0xf01dUL).Shuffle order
        [
            for f in 0 .. k - 1 ->
                let lo, hi = f * n / k, (f + 1) * n / k
                Array.append order.[.. lo - 1] order.[hi..], order.[lo .. hi - 1]
        ]

    /// k-fold cross-validation: for each fold, `configure ()` gives a fresh model and fit options, trained on the other
    /// folds with early stopping on `monitor` (a val_ quantity, measured on this fold); the fold's score is its best
    /// epoch. The options' own validation settings are replaced by the fold; the models are freed.
    let kfold (k: int) (seed: int64) (monitor: string) (patience: int) (configure: unit -> Model * FitOptions) (x: Tensor) (y: Tensor) : FoldScores =
        let scores = [
            for trainIdx, valIdx in folds k seed (int (x.Size 0)) ->
                use _ = DisposeScope.Enter()
                let pick (idx: int[]) (t: Tensor) = t.IndexSelect(0L, Torch.From(Array.map int64 idx, [| int64 idx.Length |]).To(t.Device))
                let model, o = configure ()
                let o = { o with ValidationSplit = None; ValidationData = Some(DataSource.Tensors(pick valIdx x, Value.T(pick valIdx y))) }
                let trained, best =
                    try
                        trainOne monitor MonitorMode.ByName patience None model o (DataSource.Tensors(pick trainIdx x, Value.T(pick trainIdx y)))
                    finally
                        Model.dispose model
                Model.dispose trained.Model
                (best.TryGet monitor).Value
        ]
        { Scores = scores }
