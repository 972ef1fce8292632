/// Trainability belongs to the model: frozen paths from `frozen` layers and `Model.freeze` patterns, kept when
/// parameters are replaced or loaded, respected by fit (frozen parameters do not move), undone by
/// `Model.unfreeze`; fit refuses a model with nothing to train; `Model.withParams` names the first mismatch;
/// containers hold their children explicitly.
module Dsl.Tests.Trainability

open System.IO
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.TrainingData

let private base' = named "base" (dense 8 >-> relu >-> dense 8) >-> relu >-> named "head" (dense 3)

let private trainOn (o: FitOptions) (m: Model) =
    let x, y = blobs 3 10 2.0 0.5 3L
    Training.fit o m x (Value.T y)

let private moved (before: Model) (after: Model) (path: string) = not ((Tree.find path before.Params).Equal(Tree.find path after.Params))

/// This module's tests, the Expecto list "Trainability" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Trainability" [
        testCase "frozen layers and freeze patterns are paths of the model; fit moves only what trains"
        <| fun () ->
            scoped (fun () ->
                let m = Model.buildSeeded 1L [ 2L ] (frozen (named "base" (dense 8 >-> relu >-> dense 8)) >-> relu >-> named "head" (dense 3))
                expectEqual "frozen paths" (set [ "base.dense.weight"; "base.dense.bias"; "base.dense_1.weight"; "base.dense_1.bias" ]) m.Frozen
                Expect.equal (Model.trainableParams m) (8L * 3L + 3L) "only the head trains"
                expectContains "Non-trainable params: 96 " (Summary.render m)
                let t = trainOn { quiet with Epochs = 2; BatchSize = 10 } m
                for p in Tree.paths m.Params do
                    Expect.equal (moved m t.Model p) (Model.isTrainable p m) (sprintf "%s moved iff it trains" p)
                expectEqual "the trained model keeps its frozen paths" m.Frozen t.Model.Frozen)

        testCase "freeze and unfreeze select by path, subtree and glob; unfreezing a frozen layer makes it train"
        <| fun () ->
            scoped (fun () ->
                let m = Model.buildSeeded 1L [ 2L ] base'
                expectEqual "a subtree" [ "base.dense.weight"; "base.dense.bias"; "base.dense_1.weight"; "base.dense_1.bias" ] (Model.select "base" m)
                expectEqual "a glob within names" [ "base.dense.bias"; "base.dense_1.bias"; "head.bias" ] (Model.select "**.bias" m)
                expectEqual "one name" [ "head.weight" ] (Model.select "head.weight" m)
                expectEqual
                    "star stays within a name"
                    [ "head.weight"; "head.bias" ]
                    (Model.select "*.weight" m @ Model.select "*.bias" m |> List.filter (fun p -> p.StartsWith "head"))
                let f = m |> Model.freeze [ "base" ] |> Model.unfreeze [ "base.dense_1.bias" ]
                Expect.isFalse (Model.isTrainable "base.dense.weight" f) "frozen by the subtree"
                Expect.isTrue (Model.isTrainable "base.dense_1.bias" f) "unfrozen again"
                let t = trainOn { quiet with Epochs = 2; BatchSize = 10 } f
                Expect.isFalse (moved f t.Model "base.dense.weight") "a frozen weight stays"
                Expect.isTrue (moved f t.Model "base.dense_1.bias") "an unfrozen bias trains"
                Expect.throwsT<System.ArgumentException> (fun () -> Model.freeze [ "nothing.here" ] m |> ignore) "a pattern selecting nothing"
                let built = Model.buildSeeded 1L [ 2L ] (frozen (dense 4) >-> dense 3)
                let thawed = Model.unfreeze [ "dense" ] built
                let t2 = trainOn { quiet with Epochs = 1; BatchSize = 10 } thawed
                Expect.isTrue (moved thawed t2.Model "dense.weight") "a layer built frozen trains once unfrozen")

        testCase "fit with nothing to train says so before any step"
        <| fun () ->
            scoped (fun () ->
                let m = Model.buildSeeded 1L [ 2L ] base' |> Model.freeze [ "**" ]
                let x, y = blobs 3 10 2.0 0.5 3L
                let e = expectCatch (fun () -> Training.fit quiet m x (Value.T y) |> ignore)
                expectContains "nothing to train" e.Message
                expectContains "Model.unfreeze" e.Message)

        testCase "replacing or loading parameters keeps trainability, and withParams names the first mismatch"
        <| fun () ->
            scoped (fun () ->
                withTempDir (fun dir ->
                    let m = Model.buildSeeded 1L [ 2L ] base' |> Model.freeze [ "base" ]
                    let other = Model.buildSeeded 7L [ 2L ] base'
                    let swapped = Model.withParams other.Params m
                    expectEqual "withParams keeps the frozen set" m.Frozen swapped.Frozen
                    let path = Path.Combine(dir, "ckpt")
                    Checkpoint.save path other.Params other.State None { Epoch = 1; Step = 1L; Optimizer = "none"; History = [] }
                    let p, _, _ = Checkpoint.load path None
                    let loaded = Model.withParams p m
                    expectEqual "loading keeps the frozen set" m.Frozen loaded.Frozen
                    expectSameParams "loaded parameters" other.Params loaded.Params
                    let wrongShape = Model.buildSeeded 1L [ 3L ] base'
                    Expect.throwsT<System.ArgumentException> (fun () -> Model.withParams wrongShape.Params m |> ignore) "shape"
                    let e =
                        try
                            Model.withParams wrongShape.Params m |> ignore
                            ""
                        with e ->
                            e.Message
                    expectContains "'base.dense.weight' has shape [8, 3] but the model's is [8, 2]" e
                    let missing = Tree.ofList (Tree.toList m.Params |> List.filter (fun (p, _) -> p <> "head.bias"))
                    let e2 =
                        try
                            Model.withParams missing m |> ignore
                            ""
                        with e ->
                            e.Message
                    expectContains "'head.bias' is missing" e2
                    let extra = Tree.ofList (Tree.toList m.Params @ [ "head.scale", Tree.find "head.bias" m.Params ])
                    let e3 =
                        try
                            Model.withParams extra m |> ignore
                            ""
                        with e ->
                            e.Message
                    expectContains "'head.scale' is not a parameter of the model" e3))

        testCase "containers hold their children explicitly; >-> flattens plain serials only"
        <| fun () ->
            let chain = dense 4 >-> relu >-> dense 2
            expectEqual "a chain is one serial of three" [ "dense"; "re_lu"; "dense_1" ] (chain.Sublayers |> List.map fst)
            let kept = frozen (dense 4 >-> relu) >-> dense 2
            expectEqual "a frozen serial stays one child" [ "Sequential"; "Dense" ] (kept.Sublayers |> List.map (fun (_, l) -> l.Kind))
            let namedBlock = named "block" (dense 4 >-> relu) >-> dense 2
            expectEqual "a named serial stays one child" [ "block"; "dense" ] (namedBlock.Sublayers |> List.map fst)
            let heads = fanOut [ "hour", dense 12; "minute", dense 60 ]
            expectEqual "fan-out heads" [ "hour"; "minute" ] (heads.Sublayers |> List.map fst)
    ]
