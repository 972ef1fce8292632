/// Seed 000 Task 1: the 100-layer, 512-wide study, every part, as claims over one shared run.
module Dsl.Theory.Task1

open System
open Dsl.Engine
open DeepStudy

/// The seed's study: width 512, depth 100, 16 independent nets of 8 inputs each.
let standardSpec: Spec = { Width = 512; Depth = 100; Nets = 16; Batch = 8; Seed = 501 }

/// The standard study, run once.
let standard = lazy (run standardSpec)

/// The layers the seed asks about (those that exist for this depth).
let reportLayers (depth: int) = [ 1; 10; 50; 100 ] |> List.filter (fun l -> l <= depth)

/// The layers at which a tanh setting is compared with its closed form: the report layers up to d/4.
/// The second-order closure is accurate there (within 0.4% against 400–2000-net simulations at
/// l/d = 0.1–0.25 for d = 64–256, and 1.2% at l/d = 0.5), while the plain mean-field recursion is already
/// 5–7% too high at l/d = 0.2.
let comparedLayers (spec: Spec) (s: Setting) = reportLayers spec.Depth |> List.filter (fun l -> s.Act <> Tanh || 4 * l <= spec.Width)

let private record (name: string) (rs: Record list) = rs |> List.find (fun r -> r.Setting.Name = name)

/// Mean over nets of the second moment at layer l (1-based) and its SE.
let private momentAt (r: Record) (l: int) = Stats.meanSe (r.SecondMoment |> Array.map (fun a -> a.[l - 1]))

/// The second moment at layer l as a chain estimate (linear and ReLU settings, whose per-layer factor
/// has an exact conditional mean): the estimate and the SE of its log.
let private chainAt (r: Record) (l: int) = Stats.chainEstimate r.InputMoment r.SecondMoment l

/// A setting's closed form at layer l compared with the right estimator: the chain estimate for linear
/// and ReLU (log scale), the plain mean over nets for tanh (bounded, light-tailed); the tolerance is the
/// Student-t multiple for `comparisons` comparisons and the estimate's degrees of freedom.
let private compareAt (comparisons: int) (spec: Spec) (r: Record) (closed: float) (l: int) : Verdict =
    let label = sprintf "%s: E[x_%d²]" r.Setting.Name l
    match r.Setting.Act with
    | Tanh -> let m, se = momentAt r l in Verdict.monteCarlo label (Tolerance.student comparisons (float (spec.Nets - 1))) closed m se spec.Nets
    | _ -> let est, seLog, dof = chainAt r l in Verdict.monteCarloLog label (Tolerance.student comparisons dof) closed est seLog spec.Nets

/// Per-net sample std of the activations at layer l (NaN once non-finite).
let private stdAt (r: Record) (spec: Spec) (l: int) =
    let n = float (spec.Width * spec.Batch)
    Array.map2 (fun (m: float[]) (u: float[]) -> sqrt ((m.[l - 1] - u.[l - 1] * u.[l - 1]) * n / (n - 1.0))) r.SecondMoment r.Mean

/// The closed-form std of x_l: √E[x_l²] for linear and tanh (mean 0); for ReLU, x = [u]₊ has mean
/// √(E[u²]/(2π)) and E[x²] = E[u²]/2, so std = √E[x_l²]·√(1 − 1/π).
let closedStd (s: Setting) (secondMoment: float) =
    match s.Act with
    | Relu -> sqrt (secondMoment * (1.0 - 1.0 / Math.PI))
    | _ -> sqrt secondMoment

/// The report table: setting, then for each report layer the measured std (mean over nets) and the
/// closed-form std (infinity beyond float32).
let table (spec: Spec) (rs: Record list) : (string * (int * float * float) list) list = [
    for r in rs ->
        let cf = closedForm spec.Width spec.Depth r.Setting
        r.Setting.Name,
        [
            for l in reportLayers spec.Depth ->
                let s = stdAt r spec l |> Array.average
                l, s, (if cf.[l - 1] > float Single.MaxValue then infinity else closedStd r.Setting cf.[l - 1])
        ]
]

/// Writes the std of the activations at every layer (mean over nets), one line per setting, on a log axis
/// (non-finite values are left out), as `task1_std_by_layer.png` in `dir`; returns its path.
let save (dir: string) (spec: Spec) (rs: Record list) : string =
    IO.Directory.CreateDirectory dir |> ignore
    let path = IO.Path.Combine(dir, "task1_std_by_layer.png")
    Dsl.Plot.lines
        {
            Dsl.LinesPlot.Default with
                Title = sprintf "Task 1: std of the activations by layer (width %d, %d nets)" spec.Width spec.Nets
                XLabel = "layer"
                YLabel = "std (log scale)"
                LogY = true
                Width = 900
                Height = 520
        }
        path
        [ for r in rs -> { Label = r.Setting.Name; Points = [ for l in 1 .. spec.Depth -> float l, stdAt r spec l |> Array.average ]; Style = Dsl.SeriesStyle.Line; Color = None } ]
    path

/// The table as text.
let render (spec: Spec) (rs: Record list) : string =
    let layers = reportLayers spec.Depth
    let sb = Text.StringBuilder()
    sb.AppendLine(sprintf "Task 1 (width %d, depth %d, %d nets × %d inputs): std of x_l, measured (mean over nets) / closed form" spec.Width spec.Depth spec.Nets spec.Batch)
    |> ignore
    sb.AppendLine(sprintf "  %-30s %s" "setting" (layers |> List.map (fun l -> sprintf "%-26s" (sprintf "layer %d" l)) |> String.concat "")) |> ignore
    for name, cells in table spec rs do
        let show (v: float) =
            if Double.IsNaN v then "non-finite"
            elif Double.IsInfinity v then "overflow"
            else sprintf "%.4g" v
        let cell (s: float) (c: float) = sprintf "%-26s" (sprintf "%s / %s" (show s) (show c))
        sb.AppendLine(sprintf "  %-30s %s" name (cells |> List.map (fun (_, s, c) -> cell s c) |> String.concat "")) |> ignore
    sb.ToString()

/// 5a: every finite cell of the table agrees with the closed form (second moments within k·SE), and
/// every cell the closed form puts beyond float32 is non-finite in every net.
let checkTable (family: int) (spec: Spec) (rs: Record list) : Verdict =
    let layers = reportLayers spec.Depth
    let comparisons = family * rs.Length * layers.Length
    [
        for r in rs do
            let cf = closedForm spec.Width spec.Depth r.Setting
            for l in comparedLayers spec r.Setting do
                if cf.[l - 1] > float Single.MaxValue / 1e6 then
                    let finite = r.SecondMoment |> Array.filter (fun a -> not (Double.IsNaN a.[l - 1])) |> Array.length
                    if cf.[l - 1] > float Single.MaxValue * 1e6 then
                        yield
                            Verdict.exact
                                (sprintf "%s: nets still finite at layer %d (closed form %.3g > float32 max)" r.Setting.Name l cf.[l - 1])
                                0.0
                                (float finite)
                                0.0
                                spec.Nets
                else
                    yield compareAt comparisons spec r cf.[l - 1] l
    ]
    |> Verdict.all

/// 5b: with N(0,1) weights the first layer whose activations are not finite is within ±2 of
/// log(float32 max)/log(√d) in every net.
let checkOverflow (_family: int) (spec: Spec) (rs: Record list) : Verdict =
    let r = record "N(0,1), linear" rs
    let predicted = overflowLayer spec.Width
    let layers = r.FirstNonFinite |> Array.map float
    let m, se = Stats.meanSe layers
    match layers |> Array.tryFind (fun l -> l = 0.0 || abs (l - predicted) > 2.0) with
    | Some bad -> Verdict.fail "first non-finite layer (N(0,1) weights)" predicted bad (sprintf "layers %A" layers)
    | None ->
        Verified {
            Quantity = "first non-finite layer"
            Kind = MonteCarlo
            ClosedForm = predicted
            Estimate = m
            StandardError = se
            Tolerance = 2.0
            Samples = spec.Nets
            Cases = 1
            Note =
                sprintf
                    "per net %s; first NaN at %s (inf − inf one layer later)"
                    (layers |> Array.map string |> String.concat ",")
                    (r.FirstNaN |> Array.map string |> String.concat ",")
        }

/// 5c: draws of y = a·x with a ~ N(0,1)^(N×N), x ~ N(0,1)^N fresh each time (float32, engine, batches of 50).
type ProductCase = { N: int; Draws: int; Seed: int }

/// Per-draw mean of y_j² (the seed's inner average) and mean of y.
let productDraws (c: ProductCase) : float[] * float[] =
    use g = new Generator(int64 c.Seed)
    let n = int64 c.N
    let chunks = (c.Draws + 49) / 50
    let results = [|
        for i in 0 .. chunks - 1 ->
            let b = int64 (min 50 (c.Draws - 50 * i))
            Engine.scoped (fun () ->
                let a = Torch.Empty([| b; n; n |]).Normal_(0.0, 1.0, g)
                let x = Torch.Empty([| b; n; 1L |]).Normal_(0.0, 1.0, g)
                let y = a.Bmm(x).Squeeze(2L)
                Engine.values (y.Square().Mean([| 1L |])), Engine.values (y.Mean([| 1L |])))
    |]
    Array.collect fst results, Array.collect snd results

/// 5c: the seed's estimate √(Σᵢ (1/N)Σⱼ yⱼ² / draws) against √N within k·SE (SE by the delta method).
let checkProduct (family: int) (c: ProductCase) : Verdict =
    let sq, means = productDraws c
    let m, se = Stats.meanSe sq
    let std = sqrt m
    Verdict.monteCarlo "std of a·x" (Tolerance.familyWise family) (sqrt (float c.N)) std (se / (2.0 * std)) c.Draws
    |> Verdict.note (sprintf "mean of y = %.3g; √N = %.4g" (Array.average means) (sqrt (float c.N)))

/// 5d/5e: a setting whose closed-form second moment is constant (1) across depth: the per-layer factor
/// E[x_l²]/E[x_{l−1}²] (pooled over layers, SE across nets) is 1, and the chain estimate of E[x_l²] is 1 at
/// the report layers, within k·SE; the note gives the range of per-net std at the last layer.
let checkConstant (name: string) (family: int) (spec: Spec) (rs: Record list) : Verdict =
    let r = record name rs
    let cf = closedForm spec.Width spec.Depth r.Setting
    let layers = reportLayers spec.Depth
    let comparisons = family * (layers.Length + 1)
    let factors =
        Array.init spec.Nets (fun n -> Array.init spec.Depth (fun j -> r.SecondMoment.[n].[j] / (if j = 0 then r.InputMoment.[n] else r.SecondMoment.[n].[j - 1])) |> Array.average)
    let f, fse = Stats.meanSe factors
    let factorV = Verdict.monteCarlo "E[x_l²]/E[x_{l−1}²] (pooled over layers)" (Tolerance.student comparisons (float (spec.Nets - 1))) (cf.[0]) f fse spec.Nets
    let vs = [ for l in layers -> compareAt comparisons spec r cf.[l - 1] l ]
    let last = stdAt r spec spec.Depth
    Verdict.headline (factorV :: vs)
    |> Verdict.note (
        sprintf "per-net std at layer %d in [%.3g, %.3g] (N(0,1) weights: %.3g)" spec.Depth (Array.min last) (Array.max last) (sqrt (float spec.Width) ** float spec.Depth)
    )

/// 5f: Xavier uniform with ReLU: the slope of log std against depth is log(1/√2) per layer: the slope
/// ½·(log E[x_L²] − log E[x₀²])/L from the chain estimate, with its SE.
let checkXavierRelu (family: int) (spec: Spec) (rs: Record list) : Verdict =
    let r = record "Xavier uniform, ReLU" rs
    let est, seLog, dof = chainAt r spec.Depth
    let m0 = Array.average r.InputMoment
    let slope = 0.5 * (log est - log m0) / float spec.Depth
    let se = 0.5 * seLog / float spec.Depth
    Verdict.monteCarlo "d log std / d layer" (Tolerance.student family dof) (log (1.0 / sqrt 2.0)) slope se spec.Nets
    |> Verdict.note (sprintf "std ratio per layer %.4f (1/√2 = %.4f)" (exp slope) (1.0 / sqrt 2.0))

/// 5g: tanh under N(0,1)/√d and under Xavier uniform (same variance 1/d): the measured second moments
/// follow the mean-field recursion p_l = E[tanh(√p_{l−1}·z)²] within k·SE at the report layers, which
/// decays like 1/(2l) — a power law (std ∝ l^−½), not exponentially.
let checkTanh (family: int) (spec: Spec) (rs: Record list) : Verdict =
    let names = [ "N(0,1)/√d, tanh"; "Xavier uniform, tanh" ]
    let layers = comparedLayers spec (record names.Head rs).Setting
    let comparisons = family * layers.Length * names.Length
    let vs = [
        for name in names do
            let r = record name rs
            let cf = closedForm spec.Width spec.Depth r.Setting
            for l in layers -> compareAt comparisons spec r cf.[l - 1] l
    ]
    let r = record "N(0,1)/√d, tanh" rs
    let L = spec.Depth
    let half = max 1 (L / 2)
    let std l = sqrt (fst (momentAt r l))
    let powerSlope = (log (std L) - log (std half)) / (log (float L) - log (float half))
    let perLayer = exp ((log (std L) - log (std half)) / float (L - half))
    let meanField, closure = tanhSecondMoments spec.Width 1.0 spec.Depth
    let closureSlope = 0.5 * (log closure.[L - 1] - log closure.[half - 1]) / (log (float L) - log (float half))
    Verdict.headline (List.item (layers.Length - 1) vs :: vs)
    |> Verdict.note (sprintf "E[x_%d²]: mean-field (d → ∞) %.4g, width-%d closure %.4g" L meanField.[L - 1] spec.Width closure.[L - 1])
    |> Verdict.note (
        sprintf
            "std at layer %d = %.4g vs (2l)^−½ = %.4g; log-log slope over layers %d–%d = %.3f (closed form %.3f; power law l^−½); per-layer factor %.4f (Xavier+ReLU: 0.7071)"
            L
            (std L)
            (1.0 / sqrt (2.0 * float L))
            half
            L
            powerSlope
            closureSlope
            perLayer
    )

/// 5i: many tanh nets at depth l = d/4: the finite-width closure of `DeepStudy.tanhSecondMoments`
/// matches E[x_l²] within k·SE, while the plain mean-field recursion is rejected (it ignores the
/// fluctuations of ‖x‖²/d, which accumulate over depth and, G being concave, lower the mean).
type TanhCase = { Width: int; Depth: int; Nets: int; Seed: int }

let checkFiniteWidth (family: int) (c: TanhCase) : Verdict =
    let ms = tanhRun c.Width c.Depth c.Nets 32 c.Seed
    let meanField, closure = tanhSecondMoments c.Width 1.0 c.Depth
    let m, se = Stats.meanSe (ms |> Array.map (fun a -> a.[c.Depth - 1]))
    let k = Tolerance.student (2 * family) (float (c.Nets - 1))
    let zMeanField = (m - meanField.[c.Depth - 1]) / se
    Verdict.headline [
        Verdict.monteCarlo (sprintf "E[x_%d²] (width-%d closure)" c.Depth c.Width) k closure.[c.Depth - 1] m se c.Nets
        Verdict.atLeast "|E − mean-field|/SE (mean-field rejected)" true k (abs zMeanField) c.Nets
    ]
    |> Verdict.note (
        sprintf "mean-field %.5g is %.1f%% too high (z = %.1f); closure %.5g" meanField.[c.Depth - 1] (100.0 * (meanField.[c.Depth - 1] / m - 1.0)) zMeanField closure.[c.Depth - 1]
    )

/// 5h lives in Initializers.fs. The claims of the standard study:
let private onStandard (f: int -> Spec -> Record list -> Verdict) () = f 1 standardSpec (standard.Force())

let claimTable: Claim = {
    Id = "5a"
    Name = "Task 1: std at layers 1, 10, 50, 100"
    Source = "seed 000 Task 1"
    Statement = "for each setting the std of x_l at layers 1, 10, 50, 100 follows the closed-form second moment (linear (vd)^l, ReLU (vd/2)^l, tanh mean-field recursion)"
    Check = onStandard checkTable
}

let claimOverflow: Claim = {
    Id = "5b"
    Name = "Task 1.1: N(0,1) weights overflow at ≈28.4"
    Source = "seed 000 Task 1.1"
    Statement = "with N(0,1) weights the first non-finite layer is within ±2 of log(float32 max)/log(√512) ≈ 28.4"
    Check = onStandard checkOverflow
}

/// The seed's experiment: N = 512, 10,000 draws.
let standardProduct = { N = 512; Draws = 10000; Seed = 503 }

let claimProduct: Claim = {
    Id = "5c"
    Name = "Task 1.2: std of a·x is √512"
    Source = "seed 000 Task 1.2"
    Statement = "over 10,000 draws of a ~ N(0,1)^(512×512), x ~ N(0,1)^512, √(mean of (1/N)Σ y²) = √512 within its SE"
    Check = fun () -> checkProduct 1 standardProduct
}

let claimLinearScaled: Claim = {
    Id = "5d"
    Name = "Task 1.3: 1/√512 keeps a linear net stable"
    Source = "seed 000 Task 1.3"
    Statement = "with N(0,1)/√512 weights a 100-layer linear net neither explodes nor vanishes: E[x_l²] = 1 at every layer"
    Check = onStandard (checkConstant "N(0,1)/√d, linear")
}

let claimKaiming: Claim = {
    Id = "5e"
    Name = "Task 1.6: Kaiming normal + ReLU keeps O(1)"
    Source = "seed 000 Task 1.6"
    Statement = "with the engine's Kaiming normal (fan_in) and ReLU, E[x_l²] = 1 at every layer"
    Check = onStandard (checkConstant "Kaiming normal (fan_in), ReLU")
}

let claimXavierRelu: Claim = {
    Id = "5f"
    Name = "Task 1.6: Xavier + ReLU shrinks by 1/√2"
    Source = "seed 000 Task 1.6"
    Statement = "with Xavier uniform and ReLU the std shrinks by 1/√2 per layer (slope of log std vs depth = log(1/√2))"
    Check = onStandard checkXavierRelu
}

let claimTanh: Claim = {
    Id = "5g"
    Name = "Task 1.4–5: tanh decays slowly"
    Source = "seed 000 Task 1.4–1.5"
    Statement = "tanh under N(0,1)/√512 and Xavier uniform shrinks slowly (mean-field p_l ≈ 1/(2l), std ∝ l^−½), not exponentially"
    Check = onStandard checkTanh
}

/// The finite-width tanh experiment of the example: width 128, depth 32 (l/d = 0.25, about where layer 100
/// of the seed's 512-wide net is), 400 nets.
let standardTanhCase = { Width = 128; Depth = 32; Nets = 400; Seed = 509 }

let claimFiniteWidth: Claim = {
    Id = "5i"
    Name = "Task 1.4: tanh mean field needs 1/d terms"
    Source = "seed 000 Task 1.4 (finding)"
    Statement = "the mean-field recursion p_l = E[tanh(√p_{l−1} z)²] overestimates E[x_l²] at finite width (≈7% at l = d/4); the second-order closure in 1/d is right"
    Check = fun () -> checkFiniteWidth 1 standardTanhCase
}
