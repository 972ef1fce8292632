/// Seed 004 Task 2: permuting the pixels. An MLP absorbs any fixed permutation P into its first layer
/// (W₁ ↦ W₁Pᵀ), both in what it computes and in how gradient descent moves it; a CNN cannot.
module Dsl.Theory.PermutedPixels

open System
open Dsl
open Dsl.Engine

/// n pixels, a hidden layer, classes, a batch, gradient-descent steps, seed.
type Case = { Pixels: int; Hidden: int; Classes: int; Batch: int; Steps: int; Seed: int }

let describe (c: Case) = sprintf "n=%d hidden=%d classes=%d batch=%d steps=%d seed=%d" c.Pixels c.Hidden c.Classes c.Batch c.Steps c.Seed

let random (r: Random) : Case = { Pixels = Draw.int r 2 64; Hidden = Draw.int r 1 32; Classes = Draw.int r 2 6; Batch = Draw.int r 1 16; Steps = 8; Seed = r.Next() }

/// The MLP dense → ReLU → dense, built by the DSL in float64.
let build (c: Case) : Model =
    Model.buildWith { BuildOptions.Default with Seed = int64 c.Seed; DType = DType.Float64 } (Shape.Dims [ int64 c.Pixels ]) (serial [ dense c.Hidden; relu; dense c.Classes ])

/// The model's output for parameters ps.
let forward (m: Model) (ps: Params) (x: Tensor) : Tensor = Model.applyWith m ps m.State Eval (Rng.seed 0L) (Value.T x) |> fst |> Value.tensor

/// The path of the first layer's weight.
let firstWeight (ps: Params) = Tree.paths ps |> List.find (fun p -> p.EndsWith "weight")

/// The first-layer weight with its columns permuted: W'[:, i] = W[:, π(i)], so that W'·(Px) = W·x for
/// (Px)[i] = x[π(i)].
let permuteParams (perm: int[]) (ps: Params) : Params = Tree.update (firstWeight ps) (fun w -> w.IndexSelect(1L, Engine.indices perm)) ps

/// An upper bound on the magnitude of every partial sum in the forward pass (the net with |weights| on |x|).
let magnitude (ps: Params) (x: Tensor) : float =
    let ws = Tree.toList ps |> List.map snd
    let h = Functional.Linear(x.Abs(), ws.[0].Abs(), ws.[1].Abs())
    Functional.Linear(h, ws.[2].Abs(), ws.[3].Abs()).Max().ToDouble() + 1.0

/// Inputs and labels of a case, and the permutation.
let data (c: Case) (g: Generator) =
    let x = Torch.Randn([| int64 c.Batch; int64 c.Pixels |], g, DType.Float64)
    let y = Torch.Randint(0L, int64 c.Classes, [| int64 c.Batch |], g)
    x, y

/// A case's model and pixel permutation, and a batch (x, y) with its permuted inputs Px.
let private setup (c: Case) =
    let m = build c
    use g = new Generator(int64 c.Seed + 1L)
    let perm = Draw.permutation (Random c.Seed) c.Pixels
    let x, y = data c g
    m, perm, x, y, x.IndexSelect(1L, Engine.indices perm)

/// The largest element-wise difference between two parameter trees of the same layout.
let private treeGap (a: Params) (b: Params) =
    List.map2 (fun (_, u: Tensor) (_, v: Tensor) -> (u - v).Abs().Max().ToDouble()) (Tree.toList a) (Tree.toList b) |> List.max

/// 11a: f with the permuted first layer on Px equals f on x, up to rounding.
let checkForward (_family: int) (c: Case) : Verdict =
    Engine.scoped (fun () ->
        let m, perm, x, _, xp = setup c
        let diff = (forward m (permuteParams perm m.Params) xp - forward m m.Params x).Abs().Max().ToDouble()
        let unpermuted = (forward m m.Params xp - forward m m.Params x).Abs().Max().ToDouble()
        Verdict.exact "max |f_{W₁Pᵀ}(Px) − f_W(x)|" 0.0 diff (Tolerance.rounding (c.Pixels + c.Hidden) (magnitude m.Params x)) (c.Batch * c.Classes)
        |> Verdict.note (sprintf "without permuting W₁: %.3g" unpermuted))

/// Plain gradient descent θ ← θ − η∇L on cross-entropy, returning the parameters after each step and the losses.
let descend (m: Model) (ps: Params) (x: Tensor) (y: Tensor) (lr: float) (steps: int) : Params list * float list =
    let step (p: Params) =
        let l, gr = gradvTree (fun q -> Functional.CrossEntropy(forward m q x, y)) p
        Tree.map2 (fun (a: Tensor) (b: Tensor) -> a.Detach() - b * lr) p gr, l.ToDouble()
    let rec go p k acc losses = if k = 0 then List.rev acc, List.rev losses else (let p', l = step p in go p' (k - 1) (p' :: acc) (l :: losses))
    go ps steps [] []

/// 11b: gradient descent from the permuted initialisation on permuted inputs stays, step by step, the
/// permutation of the original trajectory (all parameters and losses, up to rounding).
let checkTrajectory (_family: int) (c: Case) : Verdict =
    Engine.scoped (fun () ->
        let m, perm, x, y, xp = setup c
        let traj, losses = descend m m.Params x y 0.5 c.Steps
        let trajP, lossesP = descend m (permuteParams perm m.Params) xp y 0.5 c.Steps
        let deviation = List.map2 (fun a b -> treeGap (permuteParams perm a) b) traj trajP |> List.max
        let lossDev = List.map2 (fun a b -> abs (a - b)) losses lossesP |> List.max
        let scale = traj |> List.map (fun p -> Tree.leaves p |> List.map (fun t -> t.Abs().Max().ToDouble()) |> List.max) |> List.max
        let tol = Tolerance.rounding (c.Steps * (c.Pixels + c.Hidden + c.Batch)) (1.0 + scale) * 100.0
        let baseline, _ = descend m m.Params xp y 0.5 c.Steps
        let apart = List.map2 (fun a b -> treeGap (permuteParams perm a) b) traj baseline |> List.max
        Verdict.headline [
            Verdict.exact "max |θ'_t − P(θ_t)| over steps" 0.0 deviation tol (c.Steps * int (Params.numel m.Params))
            Verdict.exact "max |L'_t − L_t|" 0.0 lossDev tol c.Steps
        ]
        |> Verdict.note (sprintf "GD on Px from the unpermuted init ends %.3g away" apart))

/// k×k windows (valid convolution, stride 1) of an h×w image, as pixel index lists.
let windows (h: int) (w: int) (k: int) = [
    for i in 0 .. h - k do
        for j in 0 .. w - k ->
            [
                for a in 0 .. k - 1 do
                    for b in 0 .. k - 1 -> (i + a) * w + (j + b)
            ]
]

/// A window whose pixels P scatters beyond any k×k box: such a P cannot be absorbed by a CNN.
let scatteredWindow (h: int) (w: int) (k: int) (perm: int[]) =
    windows h w k
    |> List.tryFind (fun win ->
        let moved = win |> List.map (fun p -> perm.[p])
        let rows, cols = moved |> List.map (fun p -> p / w), moved |> List.map (fun p -> p % w)
        List.max rows - List.min rows >= k || List.max cols - List.min cols >= k)

/// For a kernel K placed on window `win`, permuted by P, the smallest fraction of ‖K‖² that falls
/// outside every k×k window — what no conv kernel can reproduce.
let unabsorbableFraction (h: int) (w: int) (k: int) (perm: int[]) (win: int list) (kernel: float[]) =
    let total = kernel |> Array.sumBy (fun v -> v * v)
    windows h w k
    |> List.map (fun t -> let inside = Set.ofList t in List.mapi (fun m p -> if inside.Contains perm.[p] then 0.0 else kernel.[m] * kernel.[m]) win |> List.sum)
    |> List.min
    |> fun outside -> outside / total

/// The smallest counterexample by exhaustive search (area, then kernel size, then the transposition):
/// an image, a kernel size k ≥ 2 and a transposition of two pixels that scatters some window.
let smallestCounterexample () =
    seq {
        for area in 2..16 do
            for h in 1..area do
                if area % h = 0 then
                    let w = area / h
                    for k in 2 .. min h w do
                        for a in 0 .. area - 1 do
                            for b in a + 1 .. area - 1 do
                                let perm =
                                    Array.init area (fun i ->
                                        if i = a then b
                                        elif i = b then a
                                        else i)
                                match scatteredWindow h w k perm with
                                | Some win -> yield h, w, k, a, b, perm, win
                                | None -> ()
    }
    |> Seq.head

/// 11c: "a CNN has no such property". A one-conv-layer CNN (conv k×k, any number of filters → ReLU →
/// flatten → dense) computes a piecewise-linear function whose kinks lie on the hyperplanes aᵣ·x + bᵣ = 0
/// of its conv rows, each supported on a k×k window. Computing f(x) on Px with other weights would
/// need kink normals aᵣPᵀ, so every permuted window must fit in a k×k box. The smallest P violating
/// that is found by exhaustive search; for a random kernel the part of it no conv can reproduce is > 0,
/// while the MLP absorbs the same P (checked with 11a's forward check).
let checkCnn () : Verdict =
    let h, w, k, a, b, perm, win = smallestCounterexample ()
    let kernel = Draw.normals (Random 1103) (k * k)
    let fraction = unabsorbableFraction h w k perm win kernel
    let px p = sprintf "(%d,%d)" (p / w) (p % w)
    let mlp = checkForward 1 { Pixels = h * w; Hidden = 8; Classes = 3; Batch = 4; Steps = 0; Seed = 1104 }
    let flipAbsorbed = (scatteredWindow 5 5 3 (Array.init 25 (fun p -> (p / 5) * 5 + (4 - p % 5)))).IsNone
    Verdict.headline [ Verdict.atLeast "‖K‖² share outside every k×k box" true 0.0 fraction 1; mlp |> Verdict.inCase "the MLP with the same P" ]
    |> Verdict.note (
        sprintf
            "absorbing P needs that share to be 0; smallest counterexample: %d×%d image, %d×%d kernel, P swaps pixels %s ↔ %s; the window {%s} becomes {%s}; 1×1 kernels and 2×2 images absorb every P; a horizontal flip is absorbed (flipped kernel): %b"
            h
            w
            k
            k
            (px a)
            (px b)
            (win |> List.map px |> String.concat ",")
            (win |> List.map (fun p -> px perm.[p]) |> String.concat ",")
            flipAbsorbed
    )

let claimForward: Claim = {
    Id = "11a"
    Name = "Permuted MLP computes the same"
    Source = "seed 004 Task 2"
    Statement = "an MLP whose first-layer weights are permuted by P (W₁Pᵀ) computes on Px exactly what the original computes on x"
    Check = fun () -> Sweep.run 40 1101 random describe checkForward
}

let claimTrajectory: Claim = {
    Id = "11b"
    Name = "Permuted MLP follows the permuted GD path"
    Source = "seed 004 Task 2"
    Statement = "gradient descent from the permuted initialisation on permuted data follows the permuted trajectory step by step"
    Check = fun () -> Sweep.run 12 1102 random describe checkTrajectory
}

let claimCnn: Claim = {
    Id = "11c"
    Name = "A CNN cannot absorb a pixel permutation"
    Source = "seed 004 Task 2"
    Statement = "a CNN has no such property: some pixel permutation P cannot be absorbed by any weights of conv k×k → ReLU → flatten → dense"
    Check = checkCnn
}
