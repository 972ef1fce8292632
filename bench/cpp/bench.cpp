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

torch::nn::Sequential make_mlp() {  // B2: 10 → 256 → 256 → 1
    return torch::nn::Sequential(torch::nn::Linear(10, 256), torch::nn::ReLU(), torch::nn::Linear(256, 256), torch::nn::ReLU(),
                                 torch::nn::Linear(256, 1));
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

// ---------------------------------------------------------------- the worker

struct Worker {
    std::string data_dir;
    std::unique_ptr<StepBench> b2, b3;
    std::unique_ptr<FashionMnist> fmnist;
    torch::nn::Sequential b4_model{nullptr};

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

    std::vector<double> run(const std::string& bench, int reps, int iters, int warm, std::string& unit) {
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
            std::string unit;
            auto values = w.run(bench, reps, iters, warm, unit);
            out << "{\"bench\":\"" << bench << "\",\"unit\":\"" << unit << "\",\"values\":[";
            for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
            out << "]}";
        } catch (const std::exception& e) {
            out.str("");
            out << "{\"bench\":\"" << json_escape(bench) << "\",\"error\":\"" << json_escape(e.what()) << "\"}";
        }
        std::cout << out.str() << std::endl;
    }
    return 0;
}
