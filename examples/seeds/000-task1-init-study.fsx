// Seed 000 (Technion ECE 046211 HW2), Task 1 "The Importance of Activation and Initialization": x ∈ R^512 through
// 100 layers of 512 units with fresh weights per layer, for each of the sheet's settings (N(0,1); scaled by 1/√512;
// tanh; Xavier uniform + tanh; Kaiming normal (fan_in) + ReLU; Xavier uniform + ReLU): the mean and std at layers
// 1, 10, 50 and 100, the first NaN layer (torch.isnan, as the sheet asks), and Task 1.2's 10,000 products a·x
// (std ≈ √512). The runs are the Theory module's (src/Theory: DeepStudy.run, Task1.productDraws); the closed forms
// beside them are DeepStudy.closedForm's, the sheet's expectations are quoted where it states them.
//   dotnet fsi build.fsx run examples/seeds/000-task1-init-study.fsx           (16 nets × 8 inputs, 10,000 draws)
//   dotnet fsi build.fsx run examples/seeds/000-task1-init-study.fsx --quick   (2 nets, 500 draws)
// Writes examples/output/000-task1-init-study/task1_std_by_layer.png.
#load "Seeds.fsx"
#r "../../src/Theory/bin/Release/net10.0/MathNet.Numerics.dll"
#r "../../src/Theory/bin/Release/net10.0/Dsl.Theory.dll"

open System
open Dsl.Engine
open Dsl.Theory
open Dsl.Theory.DeepStudy
open Seeds

// Many small ops: one intra-op thread is faster on a busy machine (as examples/theory.fsx).
Torch.NumThreads <- 1

let spec = if quick then { Task1.standardSpec with Nets = 2 } else Task1.standardSpec
let layers = Task1.reportLayers spec.Depth
let records, studySeconds = timed (fun () -> run spec)

/// Per net, the mean and the (unbiased) std of x_l over its inputs' 512·batch activations; NaN once not finite.
let meanStd (r: Record) (l: int) =
    let n = float (spec.Width * spec.Batch)
    let means = r.Mean |> Array.map (fun m -> m.[l - 1])
    let stds = Array.map2 (fun (m2: float[]) (mu: float[]) -> sqrt ((m2.[l - 1] - mu.[l - 1] * mu.[l - 1]) * n / (n - 1.0))) r.SecondMoment r.Mean
    Array.average means, Array.average stds

/// The std curve of every setting over all 100 layers (mean over nets), as the picture draws it.
let curves = [ for r in records -> r.Setting.Name, [| for l in 1 .. spec.Depth -> snd (meanStd r l) |] ]

let show (v: float) =
    if Double.IsNaN v then "NaN"
    elif abs v >= 1e5 || (abs v < 1e-3 && v <> 0.0) then v.ToString("0.###e+0", Globalization.CultureInfo.InvariantCulture)
    else sprintf "%.4f" v

printfn "Seed 000 Task 1: width %d, depth %d, %d nets × %d inputs (mean over nets; Theory's DeepStudy.run, %.1f s)" spec.Width spec.Depth spec.Nets spec.Batch studySeconds
printfn "%-30s %s  first NaN layer (per net)" "setting" (layers |> List.map (fun l -> sprintf "%-27s" (sprintf "layer %d: mean / std" l)) |> String.concat "")
for r in records do
    let cells = layers |> List.map (fun l -> let m, s = meanStd r l in sprintf "%-27s" (sprintf "%s / %s" (show m) (show s))) |> String.concat ""
    let nan = if r.FirstNaN |> Array.forall ((=) 0) then "none" else r.FirstNaN |> Array.map string |> String.concat ","
    printfn "%-30s %s  %s" r.Setting.Name cells nan

printfn "\nclosed-form std (DeepStudy.closedForm: linear (vd)^l, ReLU (vd/2)^l, tanh's finite-width closure):"
for r in records do
    let cf = closedForm spec.Width spec.Depth r.Setting
    let cell l =
        let m2 = cf.[l - 1]
        if m2 > float Single.MaxValue then "overflow" else show (Task1.closedStd r.Setting m2)
    printfn "%-30s %s" r.Setting.Name (layers |> List.map (fun l -> sprintf "%-27s" (sprintf "layer %d: %s" l (cell l))) |> String.concat "")

// Task 1.2: y = a·x with fresh a ~ N(0,1)^(512×512), x ~ N(0,1)^512; the sheet's std estimate √(Σᵢ (1/N)Σⱼ yⱼ² / draws).
let product = { Task1.standardProduct with Draws = (if quick then 500 else Task1.standardProduct.Draws) }
let (squares, means), productSeconds = timed (fun () -> Task1.productDraws product)
let productStd = sqrt (Array.average squares)
printfn "\nTask 1.2: %d products a·x: mean %.4f, std %.4f, √%d = %.4f" product.Draws (Array.average means) productStd product.N (sqrt (float product.N))

let record (name: string) = records |> List.find (fun r -> r.Setting.Name = name)
let at100 (name: string) = let m, s = meanStd (record name) spec.Depth in sprintf "mean %s, std %s" (show m) (show s)
let firstNaN (name: string) =
    let r = record name
    sprintf "first NaN at layer %s (overflow predicted at %.1f)" (r.FirstNaN |> Array.map string |> String.concat ",") (overflowLayer spec.Width)
let perSetting = studySeconds / float records.Length
printTable (sprintf "Seed 000 Task 1 (layer %d unless said)%s" spec.Depth (if quick then " (quick: 2 nets, 500 draws)" else "")) [
    { Experiment = "1.1 N(0,1), linear"; Seed = "NaN (\"locate when it happens\")"; Ours = firstNaN "N(0,1), linear"; Seconds = perSetting }
    { Experiment = "1.2 std of a·x"; Seed = "≈ √512 = 22.63"; Ours = sprintf "%.4f" productStd; Seconds = productSeconds }
    { Experiment = "1.3 N(0,1)/√512, linear"; Seed = "(not stated)"; Ours = at100 "N(0,1)/√d, linear"; Seconds = perSetting }
    { Experiment = "1.4 N(0,1), tanh"; Seed = "(not stated)"; Ours = at100 "N(0,1), tanh"; Seconds = perSetting }
    { Experiment = "1.4 N(0,1)/√512, tanh"; Seed = "(not stated)"; Ours = at100 "N(0,1)/√d, tanh"; Seconds = perSetting }
    { Experiment = "1.5 Xavier uniform, tanh"; Seed = "mean 0, std around 1 (Xavier's aim)"; Ours = at100 "Xavier uniform, tanh"; Seconds = perSetting }
    { Experiment = "1.6 Kaiming normal, ReLU"; Seed = "(not stated)"; Ours = at100 "Kaiming normal (fan_in), ReLU"; Seconds = perSetting }
    { Experiment = "1.6 Xavier uniform, ReLU"; Seed = "\"very different results\""; Ours = at100 "Xavier uniform, ReLU"; Seconds = perSetting }
]
let xr = curves |> List.find (fun (n, _) -> n = "Xavier uniform, ReLU") |> snd
printfn
    "\nXavier + ReLU: std ratio per layer %.4f (1/√2 = %.4f): the std halves every two layers."
    ((xr.[spec.Depth - 1] / xr.[0]) ** (1.0 / float (spec.Depth - 1)))
    (1.0 / sqrt 2.0)

// The picture: std of x_l against l for every setting, drawn by the Theory module (Task1.save, log scale).
printfn "wrote %s" (Task1.save (outputDir "000-task1-init-study") spec records)
