// keir-gpu-to-cpu runs keir-tile-gpu's launch on the CPU: blocks become an scf.parallel, the
// workgroup tile a stack buffer, and the 8 threads of a block loops over [0, 8) split at each
// barrier; values crossing a barrier live in per-thread stack arrays. No gpu op is left.
// RUN: keir opt %s --pipeline keir-tile-gpu{block=8},keir-gpu-to-cpu,canonicalize,cse

module {
  func.func @nearest() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 2, 2>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf64>
    %y = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf64>
    %d = "keir.sqdist"(%x, %y) : (vector<2xf64>, vector<2xf64>) -> vector<1xf64>
    "keir.reduction"(%d) {axis = 1 : i64, k = 0 : i64, kind = "ArgMin"} : (vector<1xf64>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @nearest(
// CHECK-DAG:     %[[C8:.*]] = arith.constant 8 : index
// CHECK:         scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}}) step (%{{.*}}) {
// CHECK:           %[[TILE:.*]] = memref.alloca() : memref<16xf64>
// CHECK:           scf.for %{{.*}} = %{{.*}} to %[[C8]] step %{{.*}} {
// CHECK:           scf.for %{{.*}} = %{{.*}} to %{{.*}} step %[[C8]] {
// CHECK:             scf.for %[[T:.*]] = %{{.*}} to %[[C8]] step %{{.*}} {
// CHECK:               memref.store %{{.*}}, %[[TILE]]
// CHECK:             scf.for %{{.*}} = %{{.*}} to %[[C8]] step %{{.*}} {
// CHECK:               memref.load %[[TILE]]
// CHECK-NOT:     gpu.
