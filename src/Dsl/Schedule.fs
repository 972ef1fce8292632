namespace Dsl

/// A learning-rate schedule: the rate for an epoch (0-based), given the base rate. Reduce-on-plateau
/// is a callback (it needs the monitored metric), see `Callback.reduceLROnPlateau`.
type Schedule = { Name: string; Rate: float -> int -> float }

/// The schedules of torch.optim.lr_scheduler, per epoch.
module Schedule =
    /// The constant base rate.
    let constant = { Name = "constant"; Rate = fun lr _ -> lr }
    /// lr·γ^⌊epoch/step⌋ (StepLR).
    let step (stepSize: int) (gamma: float) = { Name = "step"; Rate = fun lr e -> lr * gamma ** float (e / stepSize) }
    /// lr·γ^(number of milestones ≤ epoch) (MultiStepLR).
    let multiStep (milestones: int list) (gamma: float) = {
        Name = "multi_step"
        Rate = fun lr e -> lr * gamma ** float (milestones |> List.filter (fun m -> m <= e) |> List.length)
    }
    /// lr·γ^epoch (ExponentialLR).
    let exponential (gamma: float) = { Name = "exponential"; Rate = fun lr e -> lr * gamma ** float e }
    /// Linear warm-up over `warmup` epochs, then cosine annealing to `minLr` at `total` epochs (CosineAnnealingLR with warm-up).
    let cosine (total: int) (warmup: int) (minLr: float) = {
        Name = "cosine"
        Rate =
            fun lr e ->
                if e < warmup then
                    lr * float (e + 1) / float warmup
                else
                    let t = float (e - warmup) / float (max 1 (total - warmup))
                    minLr + (lr - minLr) * 0.5 * (1.0 + cos (System.Math.PI * min 1.0 t))
    }
    /// One-cycle (OneCycleLR with cosine annealing, stepped per epoch): from lr/25 at epoch 0 up to lr at
    /// epoch 0.3·total − 1, then down to lr/25/10⁴ at the last epoch, total − 1.
    let oneCycle (total: int) = {
        Name = "one_cycle"
        Rate =
            fun lr e ->
                let upEnd = 0.3 * float total - 1.0
                let lastEnd = float total - 1.0
                let initial, final = lr / 25.0, lr / 25.0 / 1e4
                let cosAnneal a b t = b + (a - b) * 0.5 * (1.0 + cos (System.Math.PI * t))
                if float e <= upEnd then
                    cosAnneal initial lr (if upEnd <= 0.0 then 1.0 else float e / upEnd)
                else
                    cosAnneal lr final (min 1.0 ((float e - upEnd) / max 1e-9 (lastEnd - upEnd)))
    }
