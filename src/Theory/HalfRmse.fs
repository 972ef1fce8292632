/// Seed 002 (Q1, weight initialisation): the report's "due to the 0.5 factor in L2 definition, its value is
/// almost half of RMSEs", refuted. The loss is ½·MSE = ½·RMSE², which is half the RMSE only where RMSE ∈ {0, 1};
/// at the report's own RMSE 14.9987 the loss is 112.48, not 7.50.
module Dsl.Theory.HalfRmse

open System
open Dsl.Engine

/// "Almost": the statement is taken to hold where the loss is within 10% of RMSE/2.
let almost = 0.10

/// The L2 loss (1/N)·Σ ½(p − t)² and the RMSE of residuals p − t, by the engine (½·MSE and √MSE).
let lossAndRmse (residuals: float[]) : float * float =
    Engine.scoped (fun () ->
        let r = Engine.tensor [ int64 residuals.Length ] residuals
        let mse = Functional.MseLoss(r, Torch.ZerosLike r).ToDouble()
        0.5 * mse, sqrt mse)

/// Where "the loss is almost half of the RMSE" fails at these residuals: Some (RMSE/2, loss).
let fails (residuals: float[]) : (float * float) option =
    let loss, rmse = lossAndRmse residuals
    let half = rmse / 2.0
    if abs (loss - half) > almost * half then Some(half, loss) else None

let private show (xs: float[]) = sprintf "[%s]" (xs |> Array.map (sprintf "%g") |> String.concat ", ")

/// Search residuals of a random model (N(0, 15²), about the seed's test RMSE) where the statement fails, and shrink them.
let refute (seed: int) : Verdict =
    let r = Random(seed)
    let start = Array.init (Draw.int r 2 8) (fun _ -> 15.0 * Draw.normal r)
    match fails start with
    | None -> Verdict.exact "loss ≈ RMSE/2 held at random residuals" 1.0 1.0 0.0 1
    | Some _ ->
        let x, steps = Shrink.minimize (fails >> Option.isSome) (Shrink.floats 1 1) start
        let half, loss = (fails x).Value
        let seedLoss = 0.5 * 14.9987 * 14.9987
        Refuted {
            Input = sprintf "residuals p − t = %s" (show x)
            Claimed = half
            Actual = loss
            ShrinkSteps = steps
            Note =
                sprintf
                    "the loss is ½·MSE = ½·RMSE², half the RMSE only where RMSE ∈ {0, 1}; at the seed's random-init test RMSE 14.9987 it is %.2f, not %.2f (from %s)"
                    seedLoss
                    (14.9987 / 2.0)
                    (show start)
        }

/// 10f: the report's statement, expected to be refuted.
let claim: Claim = {
    Id = "10f"
    Name = "\"the loss is almost half of the RMSE\""
    Source = "seed 002 Q1 (report's statement)"
    Statement = "with the 0.5 factor of the L2 loss, the loss is almost half of the RMSE (the report, under Figure 2.6)"
    Check = fun () -> refute 1006
}
