/// Inference's memory rules: `serial` frees each dead intermediate and offers it to the next layer's in-place form
/// (ReLU), residual blocks add into the main branch's output (torchvision's `out += identity`); none of it may
/// change the result, the caller's input or a tensor anybody else holds.
module Dsl.Tests.Inference

open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators

/// The layer passes its input through unchanged: the very same tensor, as `Layer.identity` does.
let private pass = Layer.identity "Pass"

/// The stack's layers with an identity pass-through at a position chosen by the bracketing seed, nested in two
/// serials, and a residual block with a ReLU after the sum at the end (Blocks.residualSum with no shortcut).
let private inferenceNet (s: Stack) : Layer =
    let ls = List.map toLayer s.Layers
    let at = s.Bracketing % (List.length ls + 1)
    let ls = List.insertAt at pass ls
    let a, b = List.splitAt (1 + s.Bracketing % List.length ls) ls
    serial [ serial a; serial b; ZooLayers.residualSum (serial [ relu; pass ]) None (Some relu) ]

/// Output values, input values before and after, with and without recording (recording runs nothing in place).
let private runBoth (layer: Layer) (input: int64 list) (seed: int) =
    Torch.ManualSeed(int64 seed)
    let m = Model.build input layer
    let x = Torch.Randn(Array.ofList (3L :: input))
    let before = values x
    let recorded = Scope.run (fun () -> Model.applyWith m m.Params m.State Eval (Rng.seed 0L) (Value.T x) |> fst |> Value.tensor |> values)
    let inferred = Scope.run (fun () -> values (Model.forward m x))
    let after = values x
    let disposed = x.IsDisposed
    x.Dispose()
    Model.dispose m
    recorded, inferred, before, after, disposed

[<Tests>]
let tests =
    testList "Inference" [
        testPropertyWithConfig (maxTest 60) "inference in place gives the recorded result and leaves the input alone"
        <| Prop.forAll stackArb (fun s ->
            let baseline = settledLive ()
            let recorded, inferred, before, after, disposed = runBoth (inferenceNet s) s.Input s.Bracketing
            Expect.isFalse disposed "the caller's input is not disposed"
            Expect.sequenceEqual after before "the caller's input is unchanged"
            Expect.sequenceEqual inferred recorded "the same values, bit for bit"
            Expect.equal (settledLive ()) baseline "no tensor is left behind")

        test "an identity layer's pass-through is the caller's tensor: neither overwritten nor freed" {
            let recorded, inferred, before, after, disposed = runBoth (serial [ pass; relu; pass; relu6 ]) [ 5L ] 1
            Expect.isFalse disposed "not disposed"
            Expect.sequenceEqual after before "not overwritten"
            Expect.isTrue (Array.exists (fun v -> v < 0.0) before) "the input has negatives that ReLU would clear"
            Expect.sequenceEqual inferred recorded "same result"
        }

        test "a dead intermediate is overwritten by ReLU in place, and freed when a layer makes a new tensor" {
            let baseline = settledLive ()
            let m = Model.build [ 4L ] (serial [ dense 6; relu; dense 3; relu ])
            let x = Torch.Randn [| 2L; 4L |]
            use _ = Autograd.NoGrad()
            let liveDuring = ref 0L
            // A probe layer: counts the live handles when the model's second dense layer has just run.
            let probe = {
                Layer.identity "Probe" with
                    Apply =
                        fun a v ->
                            liveDuring.Value <- Tensor.LiveCount
                            v, a.State
            }
            let m2 = Model.build [ 4L ] (serial [ dense 6; relu; dense 3; probe; relu ])
            use s = DisposeScope.Enter()
            let start = Tensor.LiveCount
            let y = Model.forward m2 x
            // dense_1's output is alive at the probe; dense's output and its ReLU (the same tensor) are gone.
            Expect.equal (liveDuring.Value - start) 1L "only the current intermediate is alive"
            Expect.equal (Tensor.LiveCount - start) 1L "the output is all that is left"
            Expect.isTrue (values y |> Array.forall (fun v -> v >= 0.0)) "ReLU ran"
            s.Dispose()
            x.Dispose()
            Model.dispose m
            Model.dispose m2
            Expect.equal (settledLive ()) baseline "back to the baseline"
        }

        test "a layer whose Apply is replaced loses its in-place form" {
            let doubled = { relu with Apply = fun a v -> Value.T(Value.tensor v * 2.0), a.State }
            Expect.isSome (Layer.inPlace relu) "ReLU has one"
            Expect.isNone (Layer.inPlace doubled) "the stale form of the replaced Apply is ignored"
            let recorded, inferred, _, _, _ = runBoth (serial [ dense 3; doubled ]) [ 4L ] 2
            Expect.sequenceEqual inferred recorded "the new Apply runs"
            Expect.isTrue (Array.exists (fun v -> v < 0.0) inferred) "doubling keeps negatives: not ReLU"
        }

        test "a residual block in inference adds into its branch's output, never into the input" {
            let recorded, inferred, before, after, _ = runBoth (serial [ dense 5; residual (serial [ dense 5; relu ]); relu ]) [ 5L ] 3
            Expect.sequenceEqual after before "input unchanged"
            Expect.sequenceEqual inferred recorded "same result"
            let recorded, inferred, before, after, _ = runBoth (residual (serial [ pass ])) [ 5L ] 4
            Expect.sequenceEqual after before "an identity branch: the sum is a new tensor"
            Expect.sequenceEqual inferred (before |> Array.map (fun v -> v + v)) "x + x"
            Expect.sequenceEqual recorded inferred "same result"
        }
    ]
