// keir opt --emit llvm-ir: the pipeline's output lowered the rest of the way with the default
// CPU pipeline, then translated: one exported function per kernel, OpenMP-parallel rows.
// RUN: keir opt %s --pipeline keir-simplify --emit llvm-ir

module {
  func.func @scaled() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 2, 2>} {
    %x = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf64>
    %y = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf64>
    %one = "keir.intcst"() {value = 1 : i64} : () -> vector<1xf64>
    %d = "keir.sqdist"(%x, %y) : (vector<2xf64>, vector<2xf64>) -> vector<1xf64>
    %f = "keir.mult"(%d, %one) : (vector<1xf64>, vector<1xf64>) -> vector<1xf64>
    "keir.reduction"(%f) {axis = 1 : i64, k = 0 : i64, kind = "Max"} : (vector<1xf64>) -> ()
    return
  }
}

// CHECK:     define void @scaled(ptr %0, ptr %1, i64 %2, i64 %3, i64 %4,
// CHECK:     call void {{.*}}@__kmpc_fork_call
// CHECK:     define internal void @scaled..omp_par
// CHECK:     fsub {{.*}}<{{[0-9]+}} x double>
// CHECK-NOT: keir.
