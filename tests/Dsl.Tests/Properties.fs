/// FsCheck properties of the DSL: composition, parameter counts, dropout, batch norm, autodiff
/// against finite differences, frozen layers, seeding, and trees.
module Dsl.Tests.Properties

open FsCheck
open FsCheck.FSharp
open Expecto
open Dsl
open Dsl.Engine
open Dsl.Tests.Helpers
open Dsl.Tests.Generators

// ---------------------------------------------------------------- serial composition

/// Composes layers with >-> in a random bracketing chosen by `seed`.
let rec private bracket (rnd: System.Random) (layers: Layer list) : Layer =
    match layers with
    | [ l ] -> l
    | _ ->
        let a, b = List.splitAt (1 + rnd.Next(List.length layers - 1)) layers
        bracket rnd a >-> bracket rnd b

/// Every way of writing the stack: serial list, left- and right-nested >->, and a random bracketing.
let private groupings (s: Stack) : (string * Layer) list =
    let ls = List.map toLayer s.Layers
    [ "serial", serial ls; "left", List.reduce (>->) ls; "right", List.reduceBack (>->) ls; "random", bracket (System.Random s.Bracketing) ls ]

// ---------------------------------------------------------------- dropout

type DropoutCase = { Rate: float; Seed: int }

let private dropoutArb: Arbitrary<DropoutCase> =
    let g =
        gen {
            let! r = Gen.frequency [ 1, Gen.constant 0; 9, Gen.choose (1, 95) ]
            let! s = Gen.choose (0, 100000)
            return { Rate = float r / 100.0; Seed = s }
        }
    Arb.fromGenShrink (
        g,
        fun c ->
            seq {
                if c.Rate <> 0.5 then yield { c with Rate = 0.5 }
                if c.Seed <> 0 then yield { c with Seed = 0 }
            }
    )

let private dropoutN = 20000L

let private runDropout (rate: float) (mode: Mode) (rng: Rng) (x: Tensor) =
    let m = Model.build [ dropoutN ] (dropout rate)
    Model.applyWith m m.Params m.State mode rng (Value.T x) |> fst |> Value.tensor

// ---------------------------------------------------------------- batch norm

type BnCase = { Channels: int; Rest: int list; Batch: int; Seed: int }

let private bnArb: Arbitrary<BnCase> =
    let g =
        gen {
            let! c = Gen.choose (1, 4)
            let! rank = Gen.choose (0, 2)
            let! rest = Gen.listOfLength rank (Gen.choose (1, 4))
            let! n = Gen.choose (2, 5)
            let! s = Gen.choose (0, 100000)
            return { Channels = c; Rest = rest; Batch = n; Seed = s }
        }
    let shrink (c: BnCase) =
        seq {
            for v in shrinkInt 1 c.Channels -> { c with Channels = v }
            if not c.Rest.IsEmpty then yield { c with Rest = List.tail c.Rest }
            for v in shrinkInt 2 c.Batch -> { c with Batch = v }
        }
    Arb.fromGenShrink (g, shrink)

/// Per-channel values of a [N; C; rest...] tensor as arrays (one per channel).
let private byChannel (c: int) (rest: int) (xs: float[]) : float[][] =
    Array.init c (fun ch -> xs |> Array.indexed |> Array.filter (fun (i, _) -> (i / rest) % c = ch) |> Array.map snd)

let private bnSetup (c: BnCase) =
    let shape = int64 c.Channels :: List.map int64 c.Rest
    let m = Model.buildWith { BuildOptions.Default with DType = DType.Float64 } (dims shape) batchNorm
    use g = Rng.generator Device.Cpu (Rng.seed (int64 c.Seed))
    let vec () = Torch.Randn([| int64 c.Channels |], g, DType.Float64)
    let mean, var = vec (), (Torch.Rand([| int64 c.Channels |], g, DType.Float64) + 0.5)
    let w, b = vec (), vec ()
    let ps = m.Params |> Tree.set "weight" w |> Tree.set "bias" b
    let st = m.State |> Tree.set "running_mean" mean |> Tree.set "running_var" var
    let x = Torch.Randn(Array.ofList (int64 c.Batch :: shape), g, DType.Float64) * 2.0 + 0.3
    m, ps, st, x, List.fold (*) 1 c.Rest

// ---------------------------------------------------------------- autodiff against finite differences

let private vec (xs: float[]) = f64 [ int64 xs.Length ] xs
let private eval (f: Tensor -> Tensor) (xs: float[]) = Scope.run (fun () -> (f (vec xs)).ToDouble())

let private fdGrad (f: Tensor -> Tensor) (xs: float[]) =
    let h = 1e-6
    Array.init xs.Length (fun i ->
        let at d = eval f (Array.mapi (fun j v -> if j = i then v + d else v) xs)
        (at h - at -h) / (2.0 * h))

let private fdHessian (f: Tensor -> Tensor) (xs: float[]) =
    let h = 1e-4
    let n = xs.Length
    let at (i, di) (j, dj) = eval f (Array.mapi (fun k v -> v + (if k = i then di else 0.0) + (if k = j then dj else 0.0)) xs)
    Array.init (n * n) (fun ij ->
        let i, j = ij / n, ij % n
        (at (i, h) (j, h) - at (i, h) (j, -h) - at (i, -h) (j, h) + at (i, -h) (j, -h)) / (4.0 * h * h))

let private sinX2 (x: Tensor) = (sin x * x ** 2.0).Sum()
let private lse (x: Tensor) = x.LogSumExp()

let private checkGradAndHessian (f: Tensor -> Tensor) (xs: float[]) =
    scoped (fun () ->
        let g = values (grad f (vec xs))
        let fd = fdGrad f xs
        ensure (close 1e-6 1e-6 g fd) (sprintf "grad %A, finite differences %A" g fd)
        let h = values (hessian f (vec xs))
        let fdh = fdHessian f xs
        ensure (close 1e-4 1e-4 h fdh) (sprintf "hessian %A, finite differences %A" h fdh)
        let v, g' = gradv f (vec xs)
        ensure (v.ToDouble() = eval f xs) "gradv's value is not f(x)"
        ensure (values g' = g) "gradv's gradient differs from grad"
        true)

// ---------------------------------------------------------------- frozen layers

type FrozenCase = { In: int; Hidden: int; Out: int; Batch: int; Seed: int }

let private frozenArb: Arbitrary<FrozenCase> =
    let g =
        gen {
            let! i = Gen.choose (1, 6)
            let! h = Gen.choose (1, 6)
            let! o = Gen.choose (1, 4)
            let! b = Gen.choose (1, 4)
            let! s = Gen.choose (0, 100000)
            return { In = i; Hidden = h; Out = o; Batch = b; Seed = s }
        }
    let shrink (c: FrozenCase) =
        seq {
            for v in shrinkInt 1 c.In -> { c with In = v }
            for v in shrinkInt 1 c.Hidden -> { c with Hidden = v }
            for v in shrinkInt 1 c.Out -> { c with Out = v }
            for v in shrinkInt 1 c.Batch -> { c with Batch = v }
        }
    Arb.fromGenShrink (g, shrink)

// ---------------------------------------------------------------- seeds

let private seedNet = serial [ conv2dWith { ConvOptions.Default with Padding = Same } 4 (3, 3); maxPool 2; conv2d 4 3; flatten; dense 8; dense 8 ]

let private seedArb = Arb.fromGenShrink (Gen.choose (0, 1000000), shrinkInt 0 >> Seq.ofList)

/// This module's tests, the Expecto list "Properties" (Main finds it through [<Tests>]).
[<Tests>]
let tests =
    testList "Properties" [
        // ---------------------------------------------------------------- serial composition
        testPropertyWithConfig (maxTest 100) "serial composition infers the same shape and paths however it is grouped"
        <| fun () ->
            Prop.forAll stackArb (fun s ->
                scoped (fun () ->
                    let expected = Option.get (outShape s.Input s.Layers)
                    let models = groupings s |> List.map (fun (n, l) -> n, Model.buildSeeded 3L s.Input l)
                    let _, reference = List.head models
                    ensure (reference.Output = dims expected) (sprintf "serial output %O, expected %O" reference.Output (dims expected))
                    for name, m in models do
                        ensure (m.Output = reference.Output) (sprintf "%s: output %O <> %O" name m.Output reference.Output)
                        ensure (Tree.paths m.Params = Tree.paths reference.Params) (sprintf "%s: paths %A <> %A" name (Tree.paths m.Params) (Tree.paths reference.Params))
                        ensure (Summary.table m = Summary.table reference) (sprintf "%s: summary rows %A <> %A" name (Summary.table m) (Summary.table reference))
                    true))

        testPropertyWithConfig (maxTest 100) "serial composition initialises the same values however it is grouped"
        <| fun () ->
            Prop.forAll stackArb (fun s ->
                scoped (fun () ->
                    let models = groupings s |> List.map (fun (n, l) -> n, Model.buildSeeded 11L s.Input l)
                    let _, reference = List.head models
                    for name, m in models do
                        for (p, a), (_, b) in List.zip (Tree.toList m.Params) (Tree.toList reference.Params) do
                            ensure (a.Equal b) (sprintf "%s: parameter %s differs from the serial one" name p)
                    true))

        // ---------------------------------------------------------------- parameter counts
        testPropertyWithConfig (maxTest 100) "dense has in*units + units parameters (in*units without bias)"
        <| fun () ->
            Prop.forAll denseArb (fun c ->
                scoped (fun () ->
                    let m = Model.build [ int64 c.In ] (denseWith { DenseOptions.Default with Bias = c.Bias } c.Units)
                    let expected = int64 c.In * int64 c.Units + (if c.Bias then int64 c.Units else 0L)
                    ensure (Model.countParams m = expected) (sprintf "countParams %d, expected %d" (Model.countParams m) expected)
                    ensure (Model.trainableParams m = expected) "every dense parameter is trainable"
                    ensure (m.Output = dims [ int64 c.Units ]) (sprintf "output %O" m.Output)
                    ensure (Tree.paths m.Params = (if c.Bias then [ "weight"; "bias" ] else [ "weight" ])) (sprintf "paths %A" (Tree.paths m.Params))
                    ensure ((Tree.find "weight" m.Params).Shape = [| int64 c.Units; int64 c.In |]) "weight is [units, in]"
                    true))

        testPropertyWithConfig (maxTest 100) "conv2d has filters*(C/groups)*kh*kw + filters parameters and infers its output size"
        <| fun () ->
            Prop.forAll convArb (fun c ->
                scoped (fun () ->
                    let o = { ConvOptions.Default with Groups = c.Groups; Stride = c.Stride; Padding = c.Padding; Bias = c.Bias }
                    let layer = conv2dWith o c.Filters (c.KernelH, c.KernelW)
                    let m = Model.build [ int64 c.Channels; int64 c.Height; int64 c.Width ] layer
                    let weights = int64 c.Filters * int64 c.InPerGroup * int64 c.KernelH * int64 c.KernelW
                    let expected = weights + (if c.Bias then int64 c.Filters else 0L)
                    ensure (Model.countParams m = expected) (sprintf "countParams %d, expected %d" (Model.countParams m) expected)
                    ensure ((Tree.find "weight" m.Params).Shape = [| int64 c.Filters; int64 c.InPerGroup; int64 c.KernelH; int64 c.KernelW |]) "weight shape"
                    let size (n: int) (k: int) =
                        match c.Padding with
                        | Valid -> int64 ((n - k) / c.Stride + 1)
                        | Same -> int64 ((n + c.Stride - 1) / c.Stride)
                        | Pad p -> int64 ((n + 2 * p - k) / c.Stride + 1)
                    let out = dims [ int64 c.Filters; size c.Height c.KernelH; size c.Width c.KernelW ]
                    ensure (m.Output = out) (sprintf "inferred %O, expected %O" m.Output out)
                    // The inferred shape is the shape the forward pass really produces.
                    let x = Torch.Randn([| 2L; int64 c.Channels; int64 c.Height; int64 c.Width |])
                    let y = Model.forward m x
                    ensure (Value.shape (Value.T y) = m.Output) (sprintf "forward gives %A, inferred %O" y.Shape m.Output)
                    true))

        // ---------------------------------------------------------------- dropout
        testPropertyWithConfig (maxTest 100) "dropout in Eval returns its input unchanged"
        <| fun () ->
            Prop.forAll dropoutArb (fun c ->
                scoped (fun () ->
                    use g = Rng.generator Device.Cpu (Rng.seed (int64 c.Seed))
                    let x = Torch.Randn([| 1L; dropoutN |], g)
                    let y = runDropout c.Rate Eval (Rng.seed (int64 c.Seed)) x
                    y.Equal x))

        testPropertyWithConfig (maxTest 100) "dropout in Train keeps a 1-p fraction (binomial tolerance) scaled by 1/(1-p)"
        <| fun () ->
            Prop.forAll dropoutArb (fun c ->
                scoped (fun () ->
                    let p = c.Rate
                    use g = Rng.generator Device.Cpu (Rng.seed (int64 c.Seed + 1L))
                    // Inputs in [0.5, 1.5): never zero, so a zero output means a dropped element.
                    let x = Torch.Rand([| 1L; dropoutN |], g) + 0.5
                    let y = runDropout p Train (Rng.seed (int64 c.Seed)) x
                    let xs, ys = values x, values y
                    let kept = ys |> Array.filter (fun v -> v <> 0.0) |> Array.length
                    let frac = float kept / float dropoutN
                    // 5 binomial standard errors: a false alarm has probability ≈ 6e-7 per case.
                    let tol = 5.0 * sqrt (p * (1.0 - p) / float dropoutN)
                    ensure (abs (frac - (1.0 - p)) <= tol) (sprintf "kept fraction %g, expected %g ± %g" frac (1.0 - p) tol)
                    let scaleOk = Array.forall2 (fun xv yv -> yv = 0.0 || abs (yv - xv / (1.0 - p)) <= 1e-5 * abs (xv / (1.0 - p))) xs ys
                    ensure scaleOk "kept values are not x/(1-p)"
                    true))

        testPropertyWithConfig (maxTest 100) "dropout masks are reproducible from the same Rng and differ for another"
        <| fun () ->
            Prop.forAll dropoutArb (fun c ->
                scoped (fun () ->
                    let p = max 0.05 c.Rate
                    let x = Torch.Ones([| 1L; dropoutN |])
                    let a = runDropout p Train (Rng.seed (int64 c.Seed)) x
                    let b = runDropout p Train (Rng.seed (int64 c.Seed)) x
                    let d = runDropout p Train (Rng.fold 1 (Rng.seed (int64 c.Seed))) x
                    ensure (a.Equal b) "the same Rng gave different masks"
                    ensure (not (a.Equal d)) "a different Rng gave the same mask"
                    // Inside a serial, the mask depends only on the key given to apply.
                    let net = Model.build [ dropoutN ] (identity >-> dropout p >-> identity)
                    let run r = Model.applyWith net net.Params net.State Train r (Value.T x) |> fst |> Value.tensor
                    ensure ((run (Rng.seed 5L)).Equal(run (Rng.seed 5L))) "serial: the same Rng gave different masks"
                    true))

        // ---------------------------------------------------------------- batch norm
        testPropertyWithConfig (maxTest 100) "batchNorm in Eval normalises with the running statistics set in its state"
        <| fun () ->
            Prop.forAll bnArb (fun c ->
                scoped (fun () ->
                    let m, ps, st, x, rest = bnSetup c
                    let y, st' = Model.applyWith m ps st Eval (Rng.seed 0L) (Value.T x)
                    let mean, var = values (Tree.find "running_mean" st), values (Tree.find "running_var" st)
                    let w, b = values (Tree.find "weight" ps), values (Tree.find "bias" ps)
                    let expected = values x |> Array.mapi (fun i v -> let ch = (i / rest) % c.Channels in (v - mean.[ch]) / sqrt (var.[ch] + 1e-5) * w.[ch] + b.[ch])
                    ensure (close 1e-10 1e-10 (values (Value.tensor y)) expected) "Eval output is not (x − mean)/√(var + eps)·w + b"
                    ensure (obj.ReferenceEquals(st', st) || Tree.paths st' = Tree.paths st) "Eval changed the state's structure"
                    ensure (List.forall2 (fun (a: Tensor) (b: Tensor) -> a.Equal b) (Tree.leaves st') (Tree.leaves st)) "Eval changed the running statistics"
                    true))

        testPropertyWithConfig (maxTest 100) "batchNorm in Train returns updated running statistics and leaves the old state alone"
        <| fun () ->
            Prop.forAll bnArb (fun c ->
                scoped (fun () ->
                    let m, ps, st, x, rest = bnSetup c
                    let before = Tree.map values st
                    let y, st' = Model.applyWith m ps st Train (Rng.seed 0L) (Value.T x)
                    let groups = byChannel c.Channels rest (values x)
                    let k = float groups.[0].Length
                    let bMean = groups |> Array.map Array.average
                    let bVarBiased = Array.map2 (fun (g: float[]) mu -> g |> Array.averageBy (fun v -> (v - mu) ** 2.0)) groups bMean
                    let bVarUnbiased = bVarBiased |> Array.map (fun v -> v * k / (k - 1.0))
                    let oldMean, oldVar = Tree.find "running_mean" before, Tree.find "running_var" before
                    let expMean = Array.map2 (fun o b -> 0.9 * o + 0.1 * b) oldMean bMean
                    let expVar = Array.map2 (fun o b -> 0.9 * o + 0.1 * b) oldVar bVarUnbiased
                    ensure (Tree.paths st' = [ "running_mean"; "running_var" ]) (sprintf "new state paths %A" (Tree.paths st'))
                    ensure (close 1e-10 1e-10 (values (Tree.find "running_mean" st')) expMean) "running mean is not 0.9·old + 0.1·batch mean"
                    ensure (close 1e-10 1e-10 (values (Tree.find "running_var" st')) expVar) "running var is not 0.9·old + 0.1·unbiased batch var"
                    ensure (Tree.map values st = before) "Train modified the old state in place"
                    let w, b = values (Tree.find "weight" ps), values (Tree.find "bias" ps)
                    let expected = values x |> Array.mapi (fun i v -> let ch = (i / rest) % c.Channels in (v - bMean.[ch]) / sqrt (bVarBiased.[ch] + 1e-5) * w.[ch] + b.[ch])
                    ensure (close 1e-9 1e-9 (values (Value.tensor y)) expected) "Train output does not use the batch statistics"
                    true))

        // ---------------------------------------------------------------- autodiff against finite differences
        testPropertyWithConfig (maxTest 100) "grad and hessian of sum(sin x · x²) match finite differences" <| fun () -> Prop.forAll (vectorArb 5) (checkGradAndHessian sinX2)

        testPropertyWithConfig (maxTest 100) "grad and hessian of logsumexp match finite differences"
        <| fun () ->
            Prop.forAll (vectorArb 5) (fun xs ->
                checkGradAndHessian lse xs
                && scoped (fun () ->
                    // ∇ logsumexp = softmax.
                    let e = xs |> Array.map exp
                    let softmax = e |> Array.map (fun v -> v / Array.sum e)
                    close 1e-12 1e-12 (values (grad lse (vec xs))) softmax))

        testPropertyWithConfig (maxTest 100) "grad and hessian of x·Ax match finite differences and (A + Aᵀ)"
        <| fun () ->
            Prop.forAll (vecMatArb true) (fun c ->
                let n = c.X.Length
                let quad (x: Tensor) = x.Dot((f64 [ int64 n; int64 n ] c.M).Matmul x)
                checkGradAndHessian quad c.X
                && scoped (fun () ->
                    let sym = Array.init (n * n) (fun ij -> c.M.[ij] + c.M.[(ij % n) * n + ij / n])
                    let exactGrad = Array.init n (fun i -> Array.init n (fun j -> sym.[i * n + j] * c.X.[j]) |> Array.sum)
                    ensure (close 1e-12 1e-12 (values (hessian quad (vec c.X))) sym) "hessian of x·Ax is not A + Aᵀ"
                    ensure (close 1e-12 1e-12 (values (grad quad (vec c.X))) exactGrad) "grad of x·Ax is not (A + Aᵀ)x"
                    true))

        testPropertyWithConfig (maxTest 100) "the jacobian of an elementwise function is diagonal"
        <| fun () ->
            Prop.forAll (vectorArb 6) (fun xs ->
                scoped (fun () ->
                    let n = xs.Length
                    let j = jacobian (fun x -> sin x * x) (vec xs)
                    ensure (j.Shape = [| int64 n; int64 n |]) (sprintf "jacobian shape %A" j.Shape)
                    let js = values j
                    let diag = xs |> Array.map (fun v -> cos v * v + sin v)
                    for r in 0 .. n - 1 do
                        for c in 0 .. n - 1 do
                            let v = js.[r * n + c]
                            if r = c then
                                ensure (abs (v - diag.[r]) <= 1e-12) (sprintf "J[%d,%d] = %g, expected %g" r c v diag.[r])
                            else
                                ensure (v = 0.0) (sprintf "off-diagonal J[%d,%d] = %g" r c v)
                    true))

        testPropertyWithConfig (maxTest 100) "jvp and vjp agree with the jacobian"
        <| fun () ->
            Prop.forAll (vecMatArb false) (fun c ->
                scoped (fun () ->
                    let n, m = c.X.Length, c.Rows
                    let f (x: Tensor) = (f64 [ int64 m; int64 n ] c.M).Matmul(tanh x)
                    let x = vec c.X
                    let j = values (jacobian f x)
                    // Direction vectors derived from the case (deterministic, nonzero).
                    let v = Array.init n (fun i -> 0.5 + float i * 0.25)
                    let u = Array.init m (fun i -> 1.0 - float i * 0.3)
                    let jv = Array.init m (fun r -> Array.init n (fun k -> j.[r * n + k] * v.[k]) |> Array.sum)
                    let uj = Array.init n (fun k -> Array.init m (fun r -> u.[r] * j.[r * n + k]) |> Array.sum)
                    let y1, jvpOut = jvp f x (vec v)
                    let y2, vjpOut = vjp f x (f64 [ int64 m ] u)
                    let fx = values (f x)
                    ensure (values y1 = fx && values y2 = fx) "jvp/vjp do not return f(x)"
                    ensure (close 1e-12 1e-12 (values jvpOut) jv) (sprintf "jvp %A, J·v %A" (values jvpOut) jv)
                    ensure (close 1e-12 1e-12 (values vjpOut) uj) (sprintf "vjp %A, uᵀ·J %A" (values vjpOut) uj)
                    true))

        // ---------------------------------------------------------------- frozen layers
        testPropertyWithConfig (maxTest 100) "a frozen layer gets no gradient and counts as non-trainable"
        <| fun () ->
            Prop.forAll frozenArb (fun c ->
                scoped (fun () ->
                    let m = Model.buildSeeded (int64 c.Seed) [ int64 c.In ] (frozen (dense c.Hidden) >-> dense c.Out)
                    use gen = Rng.generator Device.Cpu (Rng.seed (int64 c.Seed))
                    let x = Torch.Randn([| int64 c.Batch; int64 c.In |], gen)
                    let loss (ps: Params) =
                        let y = Model.applyWith m ps m.State Train (Rng.seed 0L) (Value.T x) |> fst |> Value.tensor
                        y.Sum() + (y * y).Sum()
                    let g = gradTree loss m.Params
                    ensure (Tree.paths g = Tree.paths m.Params) (sprintf "gradient paths %A" (Tree.paths g))
                    let isZero (t: Tensor) = values t |> Array.forall ((=) 0.0)
                    for p, t in Tree.toList g do
                        if p.StartsWith "dense." then
                            ensure (isZero t) (sprintf "frozen %s has a nonzero gradient" p)
                        else
                            ensure (not (isZero t)) (sprintf "trainable %s has a zero gradient" p)
                    let frozenCount = int64 (c.In * c.Hidden + c.Hidden)
                    let trainCount = int64 (c.Hidden * c.Out + c.Out)
                    ensure (Model.nonTrainableParams m = frozenCount) (sprintf "nonTrainableParams %d, expected %d" (Model.nonTrainableParams m) frozenCount)
                    ensure (Model.trainableParams m = trainCount) (sprintf "trainableParams %d, expected %d" (Model.trainableParams m) trainCount)
                    ensure (Model.countParams m = frozenCount + trainCount) "countParams"
                    ensure
                        ((Summary.render m).Contains(sprintf "Non-trainable params: %s" (frozenCount.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))))
                        "summary non-trainable line"
                    true))

        // ---------------------------------------------------------------- seeds
        testPropertyWithConfig (maxTest 100) "the same seed gives bit-identical parameters and another seed different ones"
        <| fun () ->
            Prop.forAll seedArb (fun seed ->
                scoped (fun () ->
                    let build s = Model.buildSeeded s [ 2L; 8L; 8L ] seedNet
                    let a, b, d = build (int64 seed), build (int64 seed), build (int64 seed + 1L)
                    for (p, x), (_, y) in List.zip (Tree.toList a.Params) (Tree.toList b.Params) do
                        ensure (x.Equal y) (sprintf "seed %d: %s differs between two builds" seed p)
                    for (p, x), (_, y) in List.zip (Tree.toList a.Params) (Tree.toList d.Params) do
                        ensure (not (x.Equal y)) (sprintf "seeds %d and %d give the same %s" seed (seed + 1) p)
                    // Sibling layers of the same shape draw from different keys.
                    let twin = Model.buildSeeded (int64 seed) [ 8L ] (dense 8 >-> dense 8)
                    ensure (not ((Tree.find "dense.weight" twin.Params).Equal(Tree.find "dense_1.weight" twin.Params))) "sibling layers got the same init"
                    true))

        // ---------------------------------------------------------------- trees
        testPropertyWithConfig (maxTest 200) "Tree.ofList inverts Tree.toList, and paths and count agree with it"
        <| fun () ->
            Prop.forAll treeArb (fun t ->
                Tree.ofList (Tree.toList t) = t
                && Tree.paths t = List.map fst (Tree.toList t)
                && Tree.leaves t = List.map snd (Tree.toList t)
                && Tree.count t = List.length (Tree.paths t)
                && List.length (List.distinct (Tree.paths t)) = Tree.count t)

        testPropertyWithConfig (maxTest 200) "Tree.find and tryFind return every leaf at its path, and nothing elsewhere"
        <| fun () ->
            Prop.forAll treeArb (fun t ->
                Tree.toList t |> List.forall (fun (p, v) -> Tree.find p t = v && Tree.tryFind p t = Some v)
                && Tree.tryFind "no.such.path" t = None
                && (try
                        Tree.find "no.such.path" t |> ignore
                        false
                    with :? System.ArgumentException ->
                        true))

        testPropertyWithConfig (maxTest 200) "Tree.set replaces one leaf and nothing else; update is set of f of find"
        <| fun () ->
            Prop.forAll treeArb (fun t ->
                let copy = Tree.map id t
                Tree.toList t
                |> List.forall (fun (p, v) ->
                    let t' = Tree.set p (v + 1000) t
                    Tree.find p t' = v + 1000
                    && Tree.paths t' = Tree.paths t
                    && List.forall2 (fun (q, a) (_, b) -> q = p || a = b) (Tree.toList t') (Tree.toList t)
                    && Tree.update p (fun x -> x * 3 - 1) t = Tree.set p (v * 3 - 1) t)
                && t = copy
                && (try
                        Tree.set "no.such.path" 0 t |> ignore
                        false
                    with :? System.ArgumentException ->
                        true))

        testPropertyWithConfig (maxTest 200) "Tree.map, mapi and map2 keep the structure"
        <| fun () ->
            Prop.forAll treeArb (fun t ->
                let f x = 2 * x + 1
                let g x = x - 7
                Tree.toList (Tree.map f t) = List.map (fun (p, v) -> p, f v) (Tree.toList t)
                && Tree.map id t = t
                && Tree.map (f >> g) t = Tree.map g (Tree.map f t)
                && Tree.leaves (Tree.mapi (fun p _ -> p) t) = Tree.paths t
                && Tree.map2 (+) t (Tree.map (fun x -> -x) t) = Tree.map (fun _ -> 0) t
                && Tree.paths (Tree.mapi (fun p v -> (p, v)) t) = Tree.paths t)
    ]
