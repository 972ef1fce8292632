namespace Dsl.Engine.Optim;

/// <summary>The line search of <see cref="LBFGS"/> (torch.optim.LBFGS's line_search_fn).</summary>
public enum LineSearch
{
    /// <summary>A fixed step of the learning rate (line_search_fn=None).</summary>
    None,
    /// <summary>A line search satisfying the strong Wolfe conditions (line_search_fn="strong_wolfe"; c1 1e-4, c2 0.9, at most 25 evaluations).</summary>
    StrongWolfe,
}

/// <summary>
/// L-BFGS (torch.optim.LBFGS of PyTorch 1.13, ported line by line, strong-Wolfe line search included). Unlike the
/// other optimizers it re-evaluates the loss several times per step, so <see cref="Step"/> takes a closure that
/// clears the gradients, computes the loss, calls <c>Backward()</c> and returns the loss's value, as in PyTorch.
/// The parameters are treated as one flat vector; the curvature history (<c>historySize</c> pairs of flat
/// vectors) is owned by the optimizer and freed by <see cref="Dispose"/>.
/// </summary>
public sealed class LBFGS : IDisposable
{
    readonly Tensor[] parameters;
    double lr;
    Tensor? d, prevFlatGrad;
    double t, hDiag = 1, prevLoss;
    readonly List<Tensor> oldDirs = new(), oldStps = new();
    readonly List<double> ro = new();

    /// <summary>
    /// Creates the optimizer with PyTorch's defaults: lr 1, 20 iterations and at most <c>maxIter·5/4</c> loss
    /// evaluations per step, stop when max |gradient| ≤ 1e-7 or the loss or the step changes by less than 1e-9,
    /// 100 curvature pairs, no line search.
    /// </summary>
    public LBFGS(IEnumerable<Tensor> parameters, double lr = 1, int maxIter = 20, int? maxEval = null, double toleranceGrad = 1e-7,
                 double toleranceChange = 1e-9, int historySize = 100, LineSearch lineSearch = LineSearch.None)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        this.parameters = parameters.Where(p => p.RequiresGrad).ToArray();
        if (this.parameters.Length == 0)
            throw new ArgumentException("LBFGS: no parameter requires grad; pass the model's trainable parameters.", nameof(parameters));
        LearningRate = lr;
        if (maxIter < 1) throw new ArgumentOutOfRangeException(nameof(maxIter), $"LBFGS: maxIter must be ≥ 1, got {maxIter}.");
        MaxEval = maxEval ?? maxIter * 5 / 4;
        if (MaxEval < 1) throw new ArgumentOutOfRangeException(nameof(maxEval), $"LBFGS: maxEval must be ≥ 1, got {MaxEval}.");
        if (!(toleranceGrad >= 0) || double.IsInfinity(toleranceGrad))
            throw new ArgumentOutOfRangeException(nameof(toleranceGrad), $"LBFGS: toleranceGrad must be finite and ≥ 0, got {toleranceGrad}.");
        if (!(toleranceChange >= 0) || double.IsInfinity(toleranceChange))
            throw new ArgumentOutOfRangeException(nameof(toleranceChange), $"LBFGS: toleranceChange must be finite and ≥ 0, got {toleranceChange}.");
        if (historySize < 1) throw new ArgumentOutOfRangeException(nameof(historySize), $"LBFGS: historySize must be ≥ 1, got {historySize}.");
        MaxIter = maxIter;
        ToleranceGrad = toleranceGrad;
        ToleranceChange = toleranceChange;
        HistorySize = historySize;
        LineSearch = lineSearch;
    }

    /// <summary>"LBFGS".</summary>
    public string Name => "LBFGS";
    /// <summary>The optimized parameters (those that require grad), in order.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;
    /// <summary>The most iterations per <see cref="Step"/> (max_iter).</summary>
    public int MaxIter { get; }
    /// <summary>The most loss evaluations per <see cref="Step"/> (max_eval).</summary>
    public int MaxEval { get; }
    /// <summary>Stop when the largest |gradient| element is at most this (tolerance_grad).</summary>
    public double ToleranceGrad { get; }
    /// <summary>Stop when the loss or the step changes by less than this (tolerance_change).</summary>
    public double ToleranceChange { get; }
    /// <summary>The number of curvature pairs kept (history_size).</summary>
    public int HistorySize { get; }
    /// <summary>The line search.</summary>
    public LineSearch LineSearch { get; }
    /// <summary>Loss evaluations so far, over all steps (state['func_evals']).</summary>
    public int FuncEvals { get; private set; }
    /// <summary>Iterations so far, over all steps (state['n_iter']).</summary>
    public int Iterations { get; private set; }

    /// <summary>The learning rate (the initial step length; with no line search, the step length).</summary>
    public double LearningRate
    {
        get => lr;
        set => lr = double.IsFinite(value) && value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), $"LBFGS: learning rate must be finite and > 0, got {value}.");
    }

    /// <summary>Clears the gradients (drops them by default); call it at the start of the closure.</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        foreach (var p in parameters) p.ZeroGrad(setToNone);
    }

    /// <summary>
    /// One optimization step: up to <see cref="MaxIter"/> L-BFGS iterations, each evaluating
    /// <paramref name="closure"/> (once, or as often as the line search needs). The closure must clear the
    /// gradients, compute the loss, call <c>Backward()</c> and return the loss's value; tensors it makes are
    /// freed after each call. Returns the loss of the first evaluation (before the step), as PyTorch does.
    /// </summary>
    public double Step(Func<double> closure)
    {
        ArgumentNullException.ThrowIfNull(closure);
        using var stepScope = DisposeScope.Enter();
        using var noGrad = Autograd.NoGrad();
        double origLoss = Evaluate(closure);
        double loss = origLoss;
        int currentEvals = 1;
        FuncEvals++;
        var flatGrad = GatherFlatGrad();
        bool optCond = AbsMax(flatGrad) <= ToleranceGrad;
        if (optCond) return origLoss;

        int nIter = 0;
        while (nIter < MaxIter)
        {
            nIter++;
            Iterations++;
            // this iteration's temporaries; the gradient that the next iteration needs moves out to the step's scope
            using var iterScope = DisposeScope.Enter();
            // the descent direction
            if (Iterations == 1)
            {
                Keep(ref d, flatGrad.Neg());
                ClearHistory();
                hDiag = 1;
            }
            else
            {
                var y = flatGrad.Sub(prevFlatGrad!);
                var s = d! * t;
                double ys = y.Dot(s).ToDouble();
                if (ys > 1e-10)
                {
                    if (oldDirs.Count == HistorySize)
                    {
                        oldDirs[0].Dispose();
                        oldDirs.RemoveAt(0);
                        oldStps[0].Dispose();
                        oldStps.RemoveAt(0);
                        ro.RemoveAt(0);
                    }
                    oldDirs.Add(y.DetachFromScope());
                    oldStps.Add(s.DetachFromScope());
                    ro.Add(1.0 / ys);
                    hDiag = ys / y.Dot(y).ToDouble();
                }
                int numOld = oldDirs.Count;
                var al = new double[numOld];
                var q = flatGrad.Neg();
                for (int i = numOld - 1; i >= 0; i--)
                {
                    al[i] = oldStps[i].Dot(q).ToDouble() * ro[i];
                    q.Add_(oldDirs[i] * -al[i]);
                }
                var r = q * hDiag;
                for (int i = 0; i < numOld; i++)
                {
                    double be = oldDirs[i].Dot(r).ToDouble() * ro[i];
                    r.Add_(oldStps[i] * (al[i] - be));
                }
                Keep(ref d, r);
            }
            if (prevFlatGrad is null) Keep(ref prevFlatGrad, flatGrad.Clone());
            else prevFlatGrad.Copy_(flatGrad);
            prevLoss = loss;

            // the step length
            t = Iterations == 1 ? Math.Min(1.0, 1.0 / flatGrad.Abs().Sum().ToDouble()) * lr : lr;
            double gtd = flatGrad.Dot(d!).ToDouble();
            if (gtd > -ToleranceChange) break;

            int lsEvals = 0;
            if (LineSearch == LineSearch.StrongWolfe)
            {
                var xInit = parameters.Select(p => p.Clone()).ToArray();
                (loss, flatGrad, t, lsEvals) = StrongWolfe(closure, xInit, t, d!, loss, flatGrad, gtd);
                iterScope.MoveOut(flatGrad);
                AddGrad(t, d!);
                optCond = AbsMax(flatGrad) <= ToleranceGrad;
            }
            else
            {
                AddGrad(t, d!);
                if (nIter != MaxIter)
                {
                    loss = Evaluate(closure);
                    flatGrad = iterScope.MoveOut(GatherFlatGrad());
                    optCond = AbsMax(flatGrad) <= ToleranceGrad;
                    lsEvals = 1;
                }
            }
            currentEvals += lsEvals;
            FuncEvals += lsEvals;

            if (nIter == MaxIter) break;
            if (currentEvals >= MaxEval) break;
            if (optCond) break;
            if (AbsMax(d! * t) <= ToleranceChange) break;
            if (Math.Abs(loss - prevLoss) < ToleranceChange) break;
        }
        return origLoss;
    }

    /// <summary>Runs the closure with grad enabled, freeing what it made; checks that it produced gradients.</summary>
    double Evaluate(Func<double> closure)
    {
        double v;
        using (Autograd.EnableGrad())
        using (DisposeScope.Enter())
            v = closure();
        bool any = false;
        foreach (var p in parameters)
        {
            using var g = p.Grad;
            if (g is not null) { any = true; break; }
        }
        if (!any)
            throw new InvalidOperationException("LBFGS.Step: after the closure no parameter has a gradient; the closure must call optimizer.ZeroGrad(), compute the loss, call loss.Backward() and return the loss's value.");
        return v;
    }

    /// <summary>The gradients as one flat vector (zeros for a parameter without one).</summary>
    Tensor GatherFlatGrad()
    {
        var views = new Tensor[parameters.Length];
        for (int i = 0; i < parameters.Length; i++)
            views[i] = parameters[i].Grad is { } g ? g.Reshape(-1) : Torch.Zeros(new[] { parameters[i].Numel }, parameters[i].DType, parameters[i].Device);
        return Torch.Cat(views, 0);
    }

    /// <summary>p += step · update (the slice of the flat update that belongs to p).</summary>
    void AddGrad(double step, Tensor update)
    {
        long offset = 0;
        foreach (var p in parameters)
        {
            long n = p.Numel;
            p.Add_(update.Narrow(0, offset, n).View(p.Shape) * step);
            offset += n;
        }
    }

    void SetParams(Tensor[] values)
    {
        for (int i = 0; i < parameters.Length; i++) parameters[i].Copy_(values[i]);
    }

    (double Loss, Tensor FlatGrad) DirectionalEvaluate(Func<double> closure, Tensor[] x, double step, Tensor direction)
    {
        AddGrad(step, direction);
        double loss = Evaluate(closure);
        var flatGrad = GatherFlatGrad();
        SetParams(x);
        return (loss, flatGrad);
    }

    static double AbsMax(Tensor x) => x.Abs().Max().ToDouble();


    /// <summary>Replaces a tensor the optimizer keeps across steps, freeing the old one.</summary>
    static void Keep(ref Tensor? slot, Tensor value)
    {
        if (ReferenceEquals(slot, value)) return;
        slot?.Dispose();
        slot = value.DetachFromScope();
    }

    void ClearHistory()
    {
        foreach (var x in oldDirs) x.Dispose();
        foreach (var x in oldStps) x.Dispose();
        oldDirs.Clear();
        oldStps.Clear();
        ro.Clear();
    }

    // ---- the strong-Wolfe line search (torch/optim/lbfgs.py: _cubic_interpolate, _strong_wolfe) ----

    static double CubicInterpolate(double x1, double f1, double g1, double x2, double f2, double g2, (double Min, double Max)? bounds = null)
    {
        var (xmin, xmax) = bounds ?? (x1 <= x2 ? (x1, x2) : (x2, x1));
        double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
        double d2Square = d1 * d1 - g1 * g2;
        if (d2Square >= 0)
        {
            double d2 = Math.Sqrt(d2Square);
            double minPos = x1 <= x2
                ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
            return Math.Min(Math.Max(minPos, xmin), xmax);
        }
        return (xmin + xmax) / 2;
    }

    (double Loss, Tensor FlatGrad, double T, int Evals) StrongWolfe(Func<double> closure, Tensor[] x, double t, Tensor dir, double f, Tensor g, double gtd,
                                                                    double c1 = 1e-4, double c2 = 0.9, int maxLs = 25)
    {
        double dNorm = AbsMax(dir);
        g = g.Clone();
        var (fNew, gNew) = DirectionalEvaluate(closure, x, t, dir);
        int evals = 1;
        double gtdNew = gNew.Dot(dir).ToDouble();

        double tPrev = 0, fPrev = f, gtdPrev = gtd;
        Tensor gPrev = g;
        bool done = false;
        int lsIter = 0;
        double[] bracket = Array.Empty<double>(), bracketF = Array.Empty<double>(), bracketGtd = Array.Empty<double>();
        Tensor[] bracketG = Array.Empty<Tensor>();
        while (lsIter < maxLs)
        {
            if (fNew > f + c1 * t * gtd || (lsIter > 1 && fNew >= fPrev))
            {
                (bracket, bracketF, bracketG, bracketGtd) = (new[] { tPrev, t }, new[] { fPrev, fNew }, new[] { gPrev, gNew.Clone() }, new[] { gtdPrev, gtdNew });
                break;
            }
            if (Math.Abs(gtdNew) <= -c2 * gtd)
            {
                (bracket, bracketF, bracketG) = (new[] { t }, new[] { fNew }, new[] { gNew });
                done = true;
                break;
            }
            if (gtdNew >= 0)
            {
                (bracket, bracketF, bracketG, bracketGtd) = (new[] { tPrev, t }, new[] { fPrev, fNew }, new[] { gPrev, gNew.Clone() }, new[] { gtdPrev, gtdNew });
                break;
            }
            double minStep = t + 0.01 * (t - tPrev);
            double maxStep = t * 10;
            double tmp = t;
            t = CubicInterpolate(tPrev, fPrev, gtdPrev, t, fNew, gtdNew, (minStep, maxStep));
            tPrev = tmp;
            fPrev = fNew;
            gPrev = gNew.Clone();
            gtdPrev = gtdNew;
            (fNew, gNew) = DirectionalEvaluate(closure, x, t, dir);
            evals++;
            gtdNew = gNew.Dot(dir).ToDouble();
            lsIter++;
        }
        if (lsIter == maxLs)
        {
            // bracket_gtd keeps its previous value here, as in PyTorch (the zoom loop below does not run)
            (bracket, bracketF, bracketG) = (new[] { 0, t }, new[] { f, fNew }, new[] { g, gNew });
        }

        // zoom: refine the bracket until a point satisfies the conditions
        bool insufProgress = false;
        var (lowPos, highPos) = bracketF[0] <= bracketF[^1] ? (0, 1) : (1, 0);
        while (!done && lsIter < maxLs)
        {
            if (Math.Abs(bracket[1] - bracket[0]) * dNorm < ToleranceChange) break;
            t = CubicInterpolate(bracket[0], bracketF[0], bracketGtd[0], bracket[1], bracketF[1], bracketGtd[1]);
            double bMax = Math.Max(bracket[0], bracket[1]), bMin = Math.Min(bracket[0], bracket[1]);
            double eps = 0.1 * (bMax - bMin);
            if (Math.Min(bMax - t, t - bMin) < eps)
            {
                if (insufProgress || t >= bMax || t <= bMin)
                {
                    t = Math.Abs(t - bMax) < Math.Abs(t - bMin) ? bMax - eps : bMin + eps;
                    insufProgress = false;
                }
                else
                {
                    insufProgress = true;
                }
            }
            else
            {
                insufProgress = false;
            }
            (fNew, gNew) = DirectionalEvaluate(closure, x, t, dir);
            evals++;
            gtdNew = gNew.Dot(dir).ToDouble();
            lsIter++;
            if (fNew > f + c1 * t * gtd || fNew >= bracketF[lowPos])
            {
                bracket[highPos] = t;
                bracketF[highPos] = fNew;
                bracketG[highPos] = gNew.Clone();
                bracketGtd[highPos] = gtdNew;
                (lowPos, highPos) = bracketF[0] <= bracketF[1] ? (0, 1) : (1, 0);
            }
            else
            {
                if (Math.Abs(gtdNew) <= -c2 * gtd)
                {
                    done = true;
                }
                else if (gtdNew * (bracket[highPos] - bracket[lowPos]) >= 0)
                {
                    bracket[highPos] = bracket[lowPos];
                    bracketF[highPos] = bracketF[lowPos];
                    bracketG[highPos] = bracketG[lowPos];
                    bracketGtd[highPos] = bracketGtd[lowPos];
                }
                bracket[lowPos] = t;
                bracketF[lowPos] = fNew;
                bracketG[lowPos] = gNew.Clone();
                bracketGtd[lowPos] = gtdNew;
            }
        }
        return (bracketF[lowPos], bracketG[lowPos], bracket[lowPos], evals);
    }

    /// <summary>Frees the direction, the previous gradient and the curvature history.</summary>
    public void Dispose()
    {
        ClearHistory();
        d?.Dispose();
        d = null;
        prevFlatGrad?.Dispose();
        prevFlatGrad = null;
    }
}
