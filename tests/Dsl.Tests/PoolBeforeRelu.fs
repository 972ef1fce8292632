/// `serial` runs max pooling before the ReLU written in front of it (`Rewrites.PoolBeforeRelu`): the outputs, the
/// gradients of the input and of every parameter, batch norm's running statistics and inference must be those of the
/// order written, bit for bit, with ties (integer weights and inputs) and zeros; only ReLU-ending layers followed by
/// max pooling are rewritten.
module Dsl.Tests.PoolBeforeRelu

open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers

/// A generated case, as plain ints and flags so that FsCheck prints and shrinks it; `net` reads them modulo ranges.
type Case = {
    Channels: int
    Size: int
    Filters: int
    Kernel: int
    SamePadding: bool
    /// The ReLU as the convolution's `Activation` (Keras's `activation='relu'`), not a layer of its own.
    Fused: bool
    Pool: int
    Stride: int
    PoolPadding: int
    CeilMode: bool
    /// A second conv → ReLU → pool block after the first.
    TwoBlocks: bool
    BatchNormAfter: bool
    /// Integer weights and inputs, so that windows hold equal maxima and exact zeros.
    Ties: bool
    Float64: bool
    Batch: int
    Seed: int
}

let private pick (n: int) (x: int) = abs (x % n)

/// conv (ReLU fused or a layer) → max pooling [→ conv → ReLU → pooling] [→ batch norm] → flatten → dense 3.
let private net (c: Case) : Layer =
    let pool =
        let k = 1 + pick 3 c.Pool
        let padding =
            if pick 3 c.PoolPadding = 1 then Same
            elif pick 3 c.PoolPadding = 2 && k >= 2 then Pad 1
            else Valid
        let stride = if pick 3 c.Stride = 0 then None else Some(pick 3 c.Stride)
        maxPoolWith { Stride = stride; Padding = padding; CeilMode = c.CeilMode } k
    let block filters =
        let k = 1 + pick 3 c.Kernel
        let o = { ConvOptions.Default with Padding = (if c.SamePadding then Same else Valid) }
        if c.Fused then [ conv2dWith { o with Activation = Some Activation.relu } filters (k, k); pool ] else [ conv2dWith o filters (k, k); relu; pool ]
    let filters = 1 + pick 4 c.Filters
    serial (block filters @ (if c.TwoBlocks then block (filters + 1) else []) @ (if c.BatchNormAfter then [ batchNorm ] else []) @ [ flatten; dense 3 ])

let private input (c: Case) = [ int64 (1 + pick 3 c.Channels); int64 (4 + pick 7 c.Size); int64 (4 + pick 7 c.Size) ]

/// Output, gradients (input first, then the parameters), new state, and the inference output, all as float64 arrays.
let private run (on: bool) (c: Case) : float[] list option =
    let previous = Rewrites.PoolBeforeRelu
    Rewrites.PoolBeforeRelu <- on
    try
        let dtype = if c.Float64 then DType.Float64 else DType.Float32
        let m =
            try
                Some(Model.buildWith { BuildOptions.Default with Seed = int64 c.Seed; DType = dtype } (Shape.Dims(input c)) (net c))
            with :? ShapeError ->
                None
        m
        |> Option.map (fun m ->
            try
                scoped (fun () ->
                    Torch.ManualSeed(int64 c.Seed)
                    let shape = Array.ofList (int64 (1 + pick 3 c.Batch) :: input c)
                    let x = if c.Ties then Torch.Randint(-2L, 3L, shape, dtype = dtype) else Torch.Randn(shape, dtype = dtype)
                    if c.Ties then
                        use _ = Autograd.NoGrad()
                        for p in Tree.leaves m.Params do
                            use r = (p * 2.0).Round()
                            p.Copy_ r |> ignore
                    x.RequiresGrad <- true
                    let y, state = Model.applyWith m m.Params m.State Train (Rng.seed 0L) (Value.T x)
                    let yt = Value.tensor y
                    use weights = Torch.Randn(yt.Shape, dtype = dtype)
                    let loss = (yt * weights).Sum()
                    let grads = Autograd.Grad([| loss |], Array.ofList (x :: Tree.leaves m.Params))
                    let inference = Model.forward m (x.Detach())
                    [ values yt ] @ [ for g in grads -> values (nonNull g) ] @ (Tree.leaves state |> List.map values) @ [ values inference ])
            finally
                Model.dispose m)
    finally
        Rewrites.PoolBeforeRelu <- previous

/// Counts the calls of a layer's `Without`, to see that `serial` takes the rewrite.
let private spyRelu (calls: int ref) =
    relu
    |> Layer.withReluRole (
        EndsInRelu(fun c v ->
            calls.Value <- calls.Value + 1
            v, c.State)
    )

[<Tests>]
let tests =
    testList "PoolBeforeRelu" [
        testPropertyWithConfig (maxTest 150) "max pooling before ReLU: outputs, gradients, running statistics and inference bit for bit those of the order written"
        <| fun (c: Case) ->
            let baseline = settledLive ()
            match run true c, run false c with
            | Some rewritten, Some written ->
                Expect.equal rewritten.Length written.Length "as many results"
                let bits = Array.map System.BitConverter.DoubleToInt64Bits
                List.iteri2
                    (fun i (a: float[]) b -> Expect.sequenceEqual (bits a) (bits b) (sprintf "result %d (0: output, then input and parameter gradients, state, inference)" i))
                    rewritten
                    written
            | None, None -> ()
            | _ -> failtest "one order built and the other did not"
            Expect.equal (settledLive ()) baseline "no tensor is left behind"

        test "ReLU layers and ReLU-activated convolutions end in ReLU; max pooling takes maxima; nothing else has a role" {
            let isEnds l =
                match Layer.reluRole l with
                | Some(EndsInRelu _) -> true
                | _ -> false
            Expect.isTrue (isEnds relu) "relu"
            Expect.isTrue (isEnds (conv2dWith { ConvOptions.Default with Activation = Some Activation.relu } 4 (3, 3))) "conv with relu"
            let isMax l =
                match Layer.reluRole l with
                | Some MaxOverWindows -> true
                | _ -> false
            Expect.isTrue (isMax (maxPool 2)) "max pooling"
            Expect.isTrue (isMax (maxPoolWith { PoolOptions.Default with Padding = Same } 3)) "max pooling, same padding"
            let replaced = { maxPool 2 with Apply = fun a v -> v, a.State }
            for l in [ conv2d 4 3; leakyRelu 0.01; relu6; elu 1.0; avgPool 2; globalAvgPool; replaced ] do
                Expect.isTrue (Layer.reluRole l).IsNone (sprintf "%s has no role (a replaced Apply drops it)" l.Kind)
            Expect.isTrue (isEnds (named "act" relu)) "a named ReLU keeps its role"
        }

        test "ceil-mode pooling: the built output shape is the one libtorch computes (it drops a window that starts past the input)" {
            // Non-square inputs too: with same padding one side may be padded symmetrically and the other not.
            for k in 1..3 do
                for stride in 1..3 do
                    for n in int64 k .. 7L do
                        for n2 in [ n; n + 1L ] do
                            for padding in [ Valid; Same; Pad 1 ] do
                                if padding <> Pad 1 || k >= 2 then
                                    let m = Model.build [ 1L; n; n2 ] (maxPoolWith { Stride = Some stride; Padding = padding; CeilMode = true } k)
                                    let built =
                                        match m.Output with
                                        | Shape.Dims d -> d
                                        | s -> failtestf "%O" s
                                    let applied = scoped (fun () -> (Model.forward m (Torch.Randn([| 1L; 1L; n; n2 |]))).Shape |> List.ofArray |> List.tail)
                                    Model.dispose m
                                    Expect.equal built applied (sprintf "kernel %d, stride %d, size %d×%d, %A" k stride n n2 padding)
        }

        test "serial takes the rewrite for ReLU then max pooling, and only there" {
            let calls = ref 0
            let shapes = [ 2L; 6L; 6L ]
            let runNet layers =
                calls.Value <- 0
                let m = Model.build shapes (serial layers)
                scoped (fun () -> Model.forward m (Torch.Randn([| 2L; 2L; 6L; 6L |])) |> ignore)
                Model.dispose m
                calls.Value
            Expect.equal (runNet [ conv2d 3 3; spyRelu calls; maxPool 2 ]) 1 "ReLU then max pooling: rewritten"
            Expect.equal (runNet [ conv2d 3 3; spyRelu calls; avgPool 2 ]) 0 "ReLU then average pooling: as written"
            Expect.equal (runNet [ spyRelu calls; conv2d 3 3; maxPool 2 ]) 0 "ReLU not before the pooling: as written"
            Expect.equal (runNet [ conv2d 3 3; spyRelu calls; maxPool 2; spyRelu calls; maxPool 2 ]) 2 "two pairs"
            Rewrites.PoolBeforeRelu <- false
            try
                Expect.equal (runNet [ conv2d 3 3; spyRelu calls; maxPool 2 ]) 0 "switched off: as written"
            finally
                Rewrites.PoolBeforeRelu <- true
        }
    ]
