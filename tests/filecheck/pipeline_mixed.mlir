// One textual pipeline mixing keir passes (with options) and upstream MLIR passes, as in the
// pass reference: autodiff, simplify, the GPU tiling with 256 threads per block, canonicalize.
// RUN: keir opt %s --pipeline "keir-autodiff,keir-simplify,keir-tile-gpu{block=256},canonicalize,cse"

module {
  func.func @k() attributes {keir.arg_cats = array<i64: 0, 1, 0>, keir.arg_dims = array<i64: 3, 3, 1>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 3 : i64, pos = 0 : i64} : () -> vector<3xf32>
    %y = "keir.var"() {cat = 1 : i64, dim = 3 : i64, pos = 1 : i64} : () -> vector<3xf32>
    %e = "keir.var"() {cat = 0 : i64, dim = 1 : i64, pos = 2 : i64} : () -> vector<1xf32>
    %d = "keir.sqdist"(%x, %y) : (vector<3xf32>, vector<3xf32>) -> vector<1xf32>
    %g = "keir.grad"(%d, %e) {pos = 0 : i64} : (vector<1xf32>, vector<1xf32>) -> vector<3xf32>
    "keir.reduction"(%g) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<3xf32>) -> ()
    return
  }
}

// CHECK:     module attributes {gpu.container_module}
// CHECK:     %[[C256:.*]] = arith.constant 256 : index
// CHECK:     gpu.launch blocks({{.*}}) threads({{.*}}) in ({{.*}} = %[[C256]], {{.*}})
// CHECK:       gpu.barrier
// CHECK-NOT: keir.
