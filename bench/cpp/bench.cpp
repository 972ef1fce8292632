// The C++ side of Dsl's benchmark: the same work as bench/Bench (Dsl) and bench/torch_bench.py
// (PyTorch), written the way a libtorch C++ user would write it (torch::nn modules, torch::optim).
//
// Protocol (shared by the three sides): the harness starts this program once and keeps it alive.
// It prints one JSON line {"ready":...} when initialised, then answers each request line
//     <bench> <reps> <iters> <warm>
// with one JSON line {"bench":..,"unit":..,"values":[one value per rep]} (or {"bench":..,"error":..}).
// A value is the mean over <iters> iterations of one rep, after <warm> untimed iterations.
// "quit" (or end of input) exits. Diagnostics go to stderr only.
//
// Arguments: --threads N   intra-op threads (at::set_num_threads); omitted = libtorch's default
//            --data DIR    folder with the raw (decompressed) Fashion-MNIST IDX files (for B4)
#include <torch/torch.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += c; }
        else if (c == '\n') out += "\\n";
        else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
        else out += c;
    }
    return out;
}

// ---------------------------------------------------------------- models

torch::nn::Sequential make_mlp(int64_t width = 256) {  // B2: 10 → 256 → 256 → 1 (S2: other widths)
    return torch::nn::Sequential(torch::nn::Linear(10, width), torch::nn::ReLU(), torch::nn::Linear(width, width), torch::nn::ReLU(),
                                 torch::nn::Linear(width, 1));
}

torch::nn::Sequential make_cnn() {  // B3
    using namespace torch::nn;
    return Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), ReLU(), MaxPool2d(2),
                      Conv2d(Conv2dOptions(32, 64, 3).padding(1)), ReLU(), MaxPool2d(2),
                      Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10));
}

torch::nn::Sequential make_fmnist_mlp() {  // B4: 784 → 256 → 10
    return torch::nn::Sequential(torch::nn::Linear(784, 256), torch::nn::ReLU(), torch::nn::Linear(256, 10));
}

// B8/B9: torchvision 0.14's ResNet18 and MobileNetV2, written with torch::nn modules as a C++ user
// would port them (same layers, in-place ReLU/ReLU6 where torchvision has inplace=True).
struct BasicBlockImpl : torch::nn::Module {
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
    torch::nn::Sequential downsample{nullptr};
    BasicBlockImpl(int64_t in, int64_t out, int64_t stride) {
        using namespace torch::nn;
        conv1 = register_module("conv1", Conv2d(Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
        bn1 = register_module("bn1", BatchNorm2d(out));
        conv2 = register_module("conv2", Conv2d(Conv2dOptions(out, out, 3).padding(1).bias(false)));
        bn2 = register_module("bn2", BatchNorm2d(out));
        if (stride != 1 || in != out)
            downsample = register_module("downsample", Sequential(Conv2d(Conv2dOptions(in, out, 1).stride(stride).bias(false)), BatchNorm2d(out)));
    }
    torch::Tensor forward(torch::Tensor x) {
        auto identity = downsample ? downsample->forward(x) : x;
        torch::Tensor y = bn1(conv1(x)).relu_();
        y = bn2(conv2(y));
        y += identity;
        return torch::relu_(y);
    }
};
TORCH_MODULE(BasicBlock);

struct ResNet18Impl : torch::nn::Module {
    torch::nn::Conv2d conv1{nullptr};
    torch::nn::BatchNorm2d bn1{nullptr};
    torch::nn::Sequential layers{nullptr};
    torch::nn::Linear fc{nullptr};
    explicit ResNet18Impl(int64_t classes) {
        using namespace torch::nn;
        conv1 = register_module("conv1", Conv2d(Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
        bn1 = register_module("bn1", BatchNorm2d(64));
        Sequential seq;
        int64_t in = 64;
        for (int64_t stage = 0; stage < 4; ++stage) {
            const int64_t out = 64 << stage;
            seq->push_back(BasicBlock(in, out, stage == 0 ? 1 : 2));
            seq->push_back(BasicBlock(out, out, 1));
            in = out;
        }
        layers = register_module("layers", seq);
        fc = register_module("fc", Linear(512, classes));
    }
    torch::Tensor forward(torch::Tensor x) {
        x = bn1(conv1(x)).relu_();
        x = torch::max_pool2d(x, 3, 2, 1);
        x = layers->forward(x);
        x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
        return fc(x);
    }
};
TORCH_MODULE(ResNet18);

// Conv (no bias) + batch norm + in-place ReLU6: torchvision's Conv2dNormActivation as MobileNetV2 uses it.
struct ConvBnRelu6Impl : torch::nn::Module {
    torch::nn::Conv2d conv{nullptr};
    torch::nn::BatchNorm2d bn{nullptr};
    ConvBnRelu6Impl(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t groups) {
        using namespace torch::nn;
        conv = register_module("0", Conv2d(Conv2dOptions(in, out, k).stride(stride).padding((k - 1) / 2).groups(groups).bias(false)));
        bn = register_module("1", BatchNorm2d(out));
    }
    torch::Tensor forward(torch::Tensor x) {
        auto y = bn(conv(x));
        return torch::hardtanh_(y, 0, 6);  // nn.ReLU6(inplace=True)
    }
};
TORCH_MODULE(ConvBnRelu6);

struct InvertedResidualImpl : torch::nn::Module {
    torch::nn::Sequential conv{nullptr};
    bool residual;
    InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand) : residual(stride == 1 && in == out) {
        using namespace torch::nn;
        const int64_t hidden = in * expand;
        Sequential seq;
        if (expand != 1) seq->push_back(ConvBnRelu6(in, hidden, 1, 1, 1));
        seq->push_back(ConvBnRelu6(hidden, hidden, 3, stride, hidden));
        seq->push_back(Conv2d(Conv2dOptions(hidden, out, 1).bias(false)));
        seq->push_back(BatchNorm2d(out));
        conv = register_module("conv", seq);
    }
    torch::Tensor forward(torch::Tensor x) { return residual ? x + conv->forward(x) : conv->forward(x); }
};
TORCH_MODULE(InvertedResidual);

struct MobileNetV2Impl : torch::nn::Module {
    torch::nn::Sequential features{nullptr};
    torch::nn::Dropout dropout{nullptr};
    torch::nn::Linear classifier{nullptr};
    explicit MobileNetV2Impl(int64_t classes) {
        using namespace torch::nn;
        const int64_t settings[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
        Sequential seq;
        seq->push_back(ConvBnRelu6(3, 32, 3, 2, 1));
        int64_t in = 32;
        for (const auto& s : settings)
            for (int64_t i = 0; i < s[2]; ++i) {
                seq->push_back(InvertedResidual(in, s[1], i == 0 ? s[3] : 1, s[0]));
                in = s[1];
            }
        seq->push_back(ConvBnRelu6(in, 1280, 1, 1, 1));
        features = register_module("features", seq);
        dropout = register_module("dropout", Dropout(0.2));
        classifier = register_module("classifier", Linear(1280, classes));
    }
    torch::Tensor forward(torch::Tensor x) {
        x = features->forward(x);
        x = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
        return classifier(dropout(x));
    }
};
TORCH_MODULE(MobileNetV2);

// B8: one SGD step (lr 0.01, momentum 0.9) of a zoo model on a fixed batch, cross-entropy over 1000 classes.
template <class M>
struct ZooStep {
    M model;
    std::unique_ptr<torch::optim::SGD> opt;
    torch::Tensor x, y;
    ZooStep(M m, int64_t batch) : model(std::move(m)) {
        torch::manual_seed(0);
        x = torch::randn({batch, 3, 224, 224});
        y = torch::randint(0, 1000, {batch}, torch::kLong);
        model->train();
        opt = std::make_unique<torch::optim::SGD>(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
    }
    void step() {
        model->zero_grad(/*set_to_none=*/true);
        auto loss = torch::nn::functional::cross_entropy(model->forward(x), y);
        loss.backward();
        opt->step();
    }
};

// A fixed-batch training step (B2, B3): zero grads (set to none, as Dsl and PyTorch 2 do), forward,
// loss, backward, Adam step.
struct StepBench {
    torch::nn::Sequential model;
    std::unique_ptr<torch::optim::Adam> opt;
    torch::Tensor x, y;
    bool bce;
    StepBench(torch::nn::Sequential m, torch::Tensor x_, torch::Tensor y_, bool bce_)
        : model(std::move(m)), x(std::move(x_)), y(std::move(y_)), bce(bce_) {
        opt = std::make_unique<torch::optim::Adam>(model->parameters(), torch::optim::AdamOptions(1e-3));
    }
    void step() {
        model->zero_grad(/*set_to_none=*/true);
        auto out = model->forward(x);
        auto loss = bce ? torch::nn::functional::binary_cross_entropy_with_logits(out, y)
                        : torch::nn::functional::cross_entropy(out, y);
        loss.backward();
        opt->step();
    }
};

// ---------------------------------------------------------------- Fashion-MNIST (B4)

torch::Tensor read_idx(const std::string& path, std::vector<int64_t>& shape) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    unsigned char magic[4];
    f.read(reinterpret_cast<char*>(magic), 4);
    if (!f || magic[0] != 0 || magic[1] != 0 || magic[2] != 0x08) throw std::runtime_error(path + " is not an unsigned-byte IDX file");
    shape.clear();
    int64_t count = 1;
    for (int i = 0; i < magic[3]; ++i) {
        unsigned char b[4];
        f.read(reinterpret_cast<char*>(b), 4);
        int64_t d = (int64_t(b[0]) << 24) | (int64_t(b[1]) << 16) | (int64_t(b[2]) << 8) | int64_t(b[3]);
        shape.push_back(d);
        count *= d;
    }
    auto t = torch::empty({count}, torch::kUInt8);
    f.read(reinterpret_cast<char*>(t.data_ptr<uint8_t>()), count);
    if (f.gcount() != count) throw std::runtime_error(path + " is truncated");
    return t;
}

struct FashionMnist {
    torch::Tensor x, y;  // float32 [N, 784] in [0, 1], int64 [N]
    explicit FashionMnist(const std::string& dir) {
        std::vector<int64_t> si, sl;
        auto images = read_idx(dir + "/train-images-idx3-ubyte", si);
        auto labels = read_idx(dir + "/train-labels-idx1-ubyte", sl);
        x = images.to(torch::kFloat32).div_(255.0).reshape({si[0], 784});
        y = labels.to(torch::kInt64);
    }
};

// One epoch through the C++ side's own loader: a randperm, then narrow + index_select per batch.
double fmnist_epoch(torch::nn::Sequential& model, const FashionMnist& data, int64_t batch) {
    torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3));
    const int64_t n = data.x.size(0);
    auto perm = torch::randperm(n, torch::kLong);
    double running = 0;
    for (int64_t start = 0; start < n; start += batch) {
        const int64_t len = std::min(batch, n - start);
        auto idx = perm.narrow(0, start, len);
        auto xb = data.x.index_select(0, idx);
        auto yb = data.y.index_select(0, idx);
        model->zero_grad(true);
        auto loss = torch::nn::functional::cross_entropy(model->forward(xb), yb);
        loss.backward();
        opt.step();
        running += loss.item<double>() * static_cast<double>(len);  // as Dsl's fit: the epoch's mean loss
    }
    return running / static_cast<double>(n);
}

// ---------------------------------------------------------------- S4: the loader's peak RSS

// VmRSS or VmHWM (the peak resident set) of this process in MB (Linux /proc/self/status).
double status_mb(const std::string& field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field + ":", 0) == 0) return std::stod(line.substr(field.size() + 1)) / 1024.0;
    throw std::runtime_error("/proc/self/status has no " + field);
}

// n Fashion-MNIST-shaped samples (float32 [n, 1, 28, 28] in [0, 1], int64 labels) made in memory, then one
// shuffled epoch of batches of 128 the way B4 batches (randperm, narrow + index_select), every batch's inputs
// read (summed). Returns the process's peak RSS (VmHWM) in MB; `extra` gets the other fields of the reply.
double loader_rss(int64_t n, std::string& extra) {
    const double before = status_mb("VmRSS");
    torch::manual_seed(0);
    auto x = torch::rand({n, 1, 28, 28});
    auto y = torch::randint(0, 10, {n}, torch::kLong);
    const double with_data = status_mb("VmRSS");
    auto t0 = Clock::now();
    auto perm = torch::randperm(n, torch::kLong);
    double total = 0;
    int64_t samples = 0;
    for (int64_t start = 0; start < n; start += 128) {
        auto idx = perm.narrow(0, start, std::min<int64_t>(128, n - start));
        auto xb = x.index_select(0, idx);
        auto yb = y.index_select(0, idx);
        total += xb.sum().item<double>();
        samples += yb.size(0);
    }
    const double epoch = seconds_since(t0);
    if (samples != n) throw std::runtime_error("S4: the loop gave " + std::to_string(samples) + " samples of " + std::to_string(n));
    std::ostringstream o;
    o.precision(9);
    o << ",\"rss_before_data_mb\":" << before << ",\"rss_with_data_mb\":" << with_data << ",\"epoch_s\":" << epoch
      << ",\"checksum\":" << total;
    extra = o.str();
    return status_mb("VmHWM");
}

// ---------------------------------------------------------------- the worker

struct Worker {
    std::string data_dir;
    std::unique_ptr<StepBench> b2, b3;
    std::unique_ptr<FashionMnist> fmnist;
    torch::nn::Sequential b4_model{nullptr};
    std::unique_ptr<ZooStep<ResNet18>> b8r;
    std::unique_ptr<ZooStep<MobileNetV2>> b8m;
    ResNet18 b9{nullptr};
    torch::Tensor b9x;
    // The scaling point being measured (S1:<batch>, S2:<width>; bench/Bench/Scaling.fs), replaced when another is requested.
    std::string scaling_name;
    std::unique_ptr<StepBench> scaling;

    template <class F>
    std::vector<double> measure(int reps, int iters, int warm, double scale, F&& body) {
        for (int i = 0; i < warm; ++i) body();
        std::vector<double> values;
        for (int r = 0; r < reps; ++r) {
            auto t0 = Clock::now();
            for (int i = 0; i < iters; ++i) body();
            values.push_back(seconds_since(t0) * scale / iters);
        }
        return values;
    }

    std::vector<double> run(const std::string& bench, int reps, int iters, int warm, std::string& unit, std::string& extra) {
        const auto colon = bench.find(':');
        if (colon != std::string::npos) {  // the scaling series: S1:<batch>, S2:<width>, S4:<samples>
            const std::string series = bench.substr(0, colon);
            const int64_t n = std::stoll(bench.substr(colon + 1));
            if (series == "S4") {
                unit = "MB";
                return {loader_rss(n, extra)};
            }
            if (series != "S1" && series != "S2") throw std::invalid_argument("unknown benchmark " + bench);
            if (scaling_name != bench) {
                scaling.reset();
                torch::manual_seed(0);
                if (series == "S1")
                    scaling = std::make_unique<StepBench>(make_cnn(), torch::randn({n, 1, 28, 28}), torch::randint(0, 10, {n}, torch::kLong), false);
                else
                    scaling = std::make_unique<StepBench>(make_mlp(n), torch::randn({256, 10}), torch::randint(0, 2, {256, 1}).to(torch::kFloat32), true);
                scaling_name = bench;
            }
            unit = "ms";
            return measure(reps, iters, warm, 1e3, [&] { scaling->step(); });
        }
        if (bench == "B1") {
            unit = "us";
            auto a = torch::ones({1}), b = torch::ones({1});
            return measure(reps, iters, warm, 1e6, [&] { torch::Tensor c = a + b; });
        }
        if (bench == "B2") {
            unit = "ms";
            if (!b2) {
                torch::manual_seed(0);
                auto x = torch::randn({256, 10});
                auto y = torch::randint(0, 2, {256, 1}).to(torch::kFloat32);
                b2 = std::make_unique<StepBench>(make_mlp(), x, y, true);
            }
            return measure(reps, iters, warm, 1e3, [&] { b2->step(); });
        }
        if (bench == "B3") {
            unit = "ms";
            if (!b3) {
                torch::manual_seed(0);
                auto x = torch::randn({128, 1, 28, 28});
                auto y = torch::randint(0, 10, {128}, torch::kLong);
                b3 = std::make_unique<StepBench>(make_cnn(), x, y, false);
            }
            return measure(reps, iters, warm, 1e3, [&] { b3->step(); });
        }
        if (bench == "B4") {
            unit = "s";
            if (!fmnist) {
                fmnist = std::make_unique<FashionMnist>(data_dir);
                torch::manual_seed(0);
                b4_model = make_fmnist_mlp();
            }
            return measure(reps, iters, warm, 1.0, [&] { fmnist_epoch(b4_model, *fmnist, 128); });
        }
        if (bench == "B8R") {
            unit = "ms";
            if (!b8r) b8r = std::make_unique<ZooStep<ResNet18>>(ResNet18(1000), 8);
            return measure(reps, iters, warm, 1e3, [&] { b8r->step(); });
        }
        if (bench == "B8M") {
            unit = "ms";
            if (!b8m) b8m = std::make_unique<ZooStep<MobileNetV2>>(MobileNetV2(1000), 16);
            return measure(reps, iters, warm, 1e3, [&] { b8m->step(); });
        }
        if (bench == "B9") {
            unit = "ms";
            if (!b9) {
                torch::manual_seed(0);
                b9 = ResNet18(1000);
                b9->eval();
                b9x = torch::randn({64, 3, 224, 224});
            }
            return measure(reps, iters, warm, 1e3, [&] {
                torch::NoGradGuard no_grad;
                auto out = b9->forward(b9x);
            });
        }
        throw std::invalid_argument("unknown benchmark " + bench);
    }
};

}  // namespace

int main(int argc, char** argv) {
    Worker w;
    int threads = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
        else if (a == "--data" && i + 1 < argc) w.data_dir = argv[++i];
        else { std::cerr << "torch_bench_cpp: unknown argument " << a << "\n"; return 2; }
    }
    if (threads > 0) at::set_num_threads(threads);
    std::cout << "{\"ready\":true,\"side\":\"cpp\",\"threads\":" << at::get_num_threads() << ",\"torch\":\"" << TORCH_VERSION << "\"}"
              << std::endl;
    std::string line;
    while (std::getline(std::cin, line)) {
        std::istringstream in(line);
        std::string bench;
        int reps = 1, iters = 1, warm = 0;
        if (!(in >> bench) || bench == "quit") break;
        in >> reps >> iters >> warm;
        std::ostringstream out;
        out.precision(9);
        try {
            std::string unit, extra;
            auto values = w.run(bench, reps, iters, warm, unit, extra);
            out << "{\"bench\":\"" << bench << "\",\"unit\":\"" << unit << "\",\"values\":[";
            for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
            out << "]" << extra << "}";
        } catch (const std::exception& e) {
            out.str("");
            out << "{\"bench\":\"" << json_escape(bench) << "\",\"error\":\"" << json_escape(e.what()) << "\"}";
        }
        std::cout << out.str() << std::endl;
    }
    return 0;
}
