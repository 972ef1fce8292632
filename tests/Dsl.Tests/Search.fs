/// Search: random search over a space (draws within bounds and the same by seed, FsCheck with shrinking), the
/// budget of trials or time, scores from the best epoch with early stopping, coarse-to-fine narrowing, the compare
/// page, and k-fold cross-validation (the folds partition the data, FsCheck with shrinking).
module Dsl.Tests.Search

open System
open System.IO
open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators
open Dsl.Tests.TrainingData

/// A space of one to five dimensions of every kind, with a seed and a trial index.
type SpaceCase = { Dims: Dimension list; Seed: int64; Trial: int }

let private genDim: Gen<Dimension> =
    Gen.oneof [
        gen {
            let! a = Gen.choose (-8, 2)
            let! w = Gen.choose (0, 6)
            return LogUniform(10.0 ** float a, 10.0 ** float (a + w))
        }
        gen {
            let! a = Gen.choose (-100, 100)
            let! w = Gen.choose (0, 50)
            return Uniform(float a / 10.0, float (a + w) / 10.0)
        }
        gen {
            let! n = Gen.choose (1, 5)
            return Choice [ for i in 1..n -> sprintf "c%d" i ]
        }
        gen {
            let! a = Gen.choose (-1000, 1000)
            let! w = Gen.choose (0, 600)
            return IntRange(a, a + w)
        }
    ]

let private shrinkDim (d: Dimension) : Dimension list =
    match d with
    | LogUniform(lo, hi) when hi > lo -> [ LogUniform(lo, lo) ]
    | Uniform(lo, hi) when hi > lo -> [ Uniform(lo, lo); Uniform(0.0, 1.0) ] |> List.filter ((<>) d)
    | Choice vs when vs.Length > 1 -> [ Choice [ List.head vs ] ]
    | IntRange(lo, hi) when hi > lo -> [ IntRange(lo, lo + (hi - lo) / 2) ]
    | _ -> []

let private spaceArb =
    let g =
        gen {
            let! dims = Gen.choose (1, 5) |> Gen.bind (fun n -> Gen.listOfLength n genDim)
            let! seed = Gen.choose (0, 100000)
            let! trial = Gen.choose (0, 1000)
            return { Dims = dims; Seed = int64 seed; Trial = trial }
        }
    let shrink (c: SpaceCase) =
        seq {
            if c.Dims.Length > 1 then yield { c with Dims = List.tail c.Dims }
            for i, d in List.indexed c.Dims do
                for d' in shrinkDim d -> { c with Dims = List.updateAt i d' c.Dims }
            for t in shrinkInt 0 c.Trial -> { c with Trial = t }
            if c.Seed <> 0L then yield { c with Seed = 0L }
        }
    Arb.fromGenShrink (g, shrink)

let private space (c: SpaceCase) = c.Dims |> List.mapi (fun i d -> sprintf "d%d" i, d)

/// n samples, k folds and a seed.
type FoldCase = { N: int; K: int; Seed: int64 }

let private foldArb =
    let g =
        gen {
            let! k = Gen.choose (2, 10)
            let! extra = Gen.choose (0, 150)
            let! seed = Gen.choose (0, 100000)
            return { N = k + extra; K = k; Seed = int64 seed }
        }
    let shrink (c: FoldCase) =
        seq {
            for k in shrinkInt 2 c.K -> { c with K = k; N = max k c.N }
            for n in shrinkInt c.K c.N -> { c with N = n }
            if c.Seed <> 0L then yield { c with Seed = 0L }
        }
    Arb.fromGenShrink (g, shrink)

/// A small classification problem and a configure function whose learning rate and width come from the sample.
let private problem () = blobs 3 20 2.0 0.6 11L

let private configure (s: Sample) =
    let model = Model.buildSeeded 1L [ 2L ] (dense (s.Int "units") >-> relu >-> dense 3)
    model, { quiet with Optimizer = Optimizers.adam (s.Float "lr"); Epochs = 6; BatchSize = 15; ValidationSplit = Some 0.25 }

let private searchSpace = [ "lr", LogUniform(1e-3, 1e-1); "units", IntRange(2, 16); "act", Choice [ "relu"; "same" ] ]

/// This module's tests, the Expecto list "Search".
[<Tests>]
let tests =
    testList "Search" [
        testPropertyWithConfig (maxTest 200) "every draw lies in its dimension and the same seed and trial draw the same sample"
        <| fun () ->
            Prop.forAll spaceArb (fun c ->
                let sp = space c
                let s = Search.sample c.Seed c.Trial sp
                ensure (s = Search.sample c.Seed c.Trial sp) "the same seed and trial give the same sample"
                for (name, d), (name', v) in List.zip sp s.Values do
                    ensure (name = name') (sprintf "dimension order: %s vs %s" name name')
                    match d, v with
                    | LogUniform(lo, hi), Real x
                    | Uniform(lo, hi), Real x -> ensure (lo <= x && x <= hi) (sprintf "%s = %g outside [%g, %g]" name x lo hi)
                    | IntRange(lo, hi), Int i -> ensure (lo <= i && i <= hi) (sprintf "%s = %d outside [%d, %d]" name i lo hi)
                    | Choice vs, Text t -> ensure (List.contains t vs) (sprintf "%s = %s not among %A" name t vs)
                    | _ -> failwithf "%s: %A drew %A" name d v
                true)

        testCase "draws cover their range (log-uniform by decade, integers at both ends) and other seeds draw otherwise"
        <| fun () ->
            let sp = [ "lr", LogUniform(1e-5, 1.0); "n", IntRange(1, 3) ]
            let samples = [ for i in 0..1999 -> Search.sample 7L i sp ]
            let decades = samples |> List.countBy (fun s -> int (floor (log10 (s.Float "lr")))) |> Map.ofList
            for d in -5 .. -1 do
                expectInRange 300 500 (Map.tryFind d decades |> Option.defaultValue 0) (sprintf "decade 1e%d holds a fifth of 2000 draws" d)
            expectEqual "integers" [ 1; 2; 3 ] (samples |> List.map (fun s -> s.Int "n") |> List.distinct |> List.sort)
            Expect.notEqual (Search.sample 8L 0 sp) (Search.sample 7L 0 sp) "another seed, another sample"

        testPropertyWithConfig (maxTest 200) "k-fold: the validation parts partition the samples, sizes differ by at most one, train is the rest"
        <| fun () ->
            Prop.forAll foldArb (fun c ->
                let fs = Search.folds c.K c.Seed c.N
                ensure (fs.Length = c.K) (sprintf "%d folds, expected %d" fs.Length c.K)
                let vals = fs |> List.collect (snd >> List.ofArray)
                ensure (List.sort vals = [ 0 .. c.N - 1 ]) "the validation parts together are 0 … n−1, each once"
                let sizes = fs |> List.map (snd >> Array.length)
                ensure (List.max sizes - List.min sizes <= 1) (sprintf "fold sizes %A" sizes)
                for train, v in fs do
                    ensure (Array.sort (Array.append train v) = Array.init c.N id) "train and validation are disjoint and cover everything"
                ensure (fs = Search.folds c.K c.Seed c.N) "the same seed gives the same folds"
                true)

        testCase "bad spaces and folds are refused naming the dimension and the fix"
        <| fun () ->
            let msg (f: unit -> unit) = (expectThrows<ArgumentException> f).Message
            expectContains "dimension 'lr' is LogUniform(0, 1); it needs 0 < low" (msg (fun () -> Search.sample 0L 0 [ "lr", LogUniform(0.0, 1.0) ] |> ignore))
            expectContains "'n' is IntRange(3, 2)" (msg (fun () -> Search.sample 0L 0 [ "n", IntRange(3, 2) ] |> ignore))
            expectContains "'act' is a Choice of nothing" (msg (fun () -> Search.sample 0L 0 [ "act", Choice [] ] |> ignore))
            expectContains "'a' appears 2 times" (msg (fun () -> Search.sample 0L 0 [ "a", Uniform(0.0, 1.0); "a", Uniform(0.0, 2.0) ] |> ignore))
            expectContains "k = 1; cross-validation needs k ≥ 2" (msg (fun () -> Search.folds 1 0L 10 |> ignore))
            expectContains "3 samples cannot fill 4 folds" (msg (fun () -> Search.folds 4 0L 3 |> ignore))
            expectContains "no dimension 'units'" (msg (fun () -> (Search.sample 0L 0 [ "lr", Uniform(0.0, 1.0) ]).Int "units" |> ignore))

        testCase "random search: the budget of trials, best first, each scored by its best epoch; the table, the compare page; coarse-to-fine narrows"
        <| fun () ->
            let x, y = problem ()
            let dir = Directory.CreateTempSubdirectory("dsl-search-").FullName
            try
                let before = settledLive ()
                let o = { SearchOptions.Default with Seed = 3L; Budget = { Trials = 4; Seconds = None }; Patience = 2; ReportDir = Some dir }
                let r = Search.random o searchSpace configure x (Value.T y)
                Expect.equal r.Trials.Length 4 "four trials"
                expectEqual "trial indices" [ 0; 1; 2; 3 ] (r.Trials |> List.map _.Index |> List.sort)
                let scores = r.Trials |> List.map _.Score
                expectEqual "best first" (List.sortDescending scores) scores
                for t in r.Trials do
                    expectEqual (sprintf "trial %d's sample" t.Index) (Search.sample 3L t.Index searchSpace) t.Sample
                    Expect.equal t.Score (t.Best.TryGet "val_accuracy").Value "the score is the best epoch's val_accuracy"
                    Expect.isTrue (File.Exists(Path.Combine(t.ReportDir.Value, "report.html"))) "each trial's report"
                Expect.isTrue (File.Exists r.ComparePage.Value) "compare.html"
                let text = Search.table r
                expectContains "rank  trial  lr" text
                expectContains "val_accuracy" text
                Expect.equal (text.Split('\n').Length) 6 "header, rule and four rows"
                Expect.equal (settledLive ()) before "every trial's tensors are freed"
                // narrowing keeps the best trials' values and stays inside the coarse space
                let fine = Search.narrow 2 r
                let top = r.Trials |> List.take 2 |> List.map _.Sample
                match fine with
                | [ "lr", LogUniform(lo, hi); "units", IntRange(a, b); "act", Choice cs ] ->
                    Expect.isTrue (1e-3 <= lo && hi <= 1e-1) "lr inside the coarse range"
                    for s in top do
                        expectInRange lo hi (s.Float "lr") "a top trial's lr"
                        expectInRange a b (s.Int "units") "a top trial's units"
                        Expect.contains cs (s.Choice "act") "a top trial's choice"
                | other -> failtestf "narrowed space %A" other
                let coarse, fineRound = Search.coarseToFine { o with Budget = { Trials = 2; Seconds = None }; ReportDir = None } 1 searchSpace configure x (Value.T y)
                let only = List.head coarse.Trials
                for s in fineRound.Trials |> List.map _.Sample do
                    Expect.equal (s.Float "lr") (only.Sample.Float "lr") "narrowed around one trial: that trial's lr"
            finally
                Directory.Delete(dir, true)
                x.Dispose()
                y.Dispose()

        testCase "a time budget stops starting trials once it is spent (a started trial finishes)"
        <| fun () ->
            let x, y = problem ()
            let o = { SearchOptions.Default with Budget = { Trials = 50; Seconds = Some 0.0 } }
            let r = Search.random o searchSpace configure x (Value.T y)
            Expect.equal r.Trials.Length 1 "one trial"
            let monitored = expectThrows<ArgumentException>(fun () -> Search.random { o with Monitor = "val_auc" } searchSpace configure x (Value.T y) |> ignore)
            expectContains "monitors 'val_auc', which fit does not log" monitored.Message
            x.Dispose()
            y.Dispose()

        testCase "kfold trains a fresh model per fold and scores each on its own validation part"
        <| fun () ->
            let x, y = problem ()
            let before = settledLive ()
            let built = ref 0
            let configure () =
                built.Value <- built.Value + 1
                Model.buildSeeded 2L [ 2L ] (dense 8 >-> relu >-> dense 3), { quiet with Optimizer = Optimizers.adam 0.05; Epochs = 5; BatchSize = 15 }
            let r = Search.kfold 3 5L "val_accuracy" 2 configure x y
            Expect.equal built.Value 3 "one model per fold"
            Expect.equal r.Scores.Length 3 "three scores"
            for s in r.Scores do
                expectInRange 0.0 1.0 s "an accuracy"
            Expect.isGreaterThan r.Mean 0.6 "three well separated blobs are learnt"
            Expect.floatClose Accuracy.high r.Std (sqrt ((r.Scores |> List.sumBy (fun s -> (s - r.Mean) ** 2.0)) / 2.0)) "sample std"
            Expect.equal (settledLive ()) before "the folds' tensors are freed"
            x.Dispose()
            y.Dispose()
    ]
