// keir-tile-cpu's micro-kernel for a long sum over the components (passes/lowering/wide_dot.py):
// SqDist of 18 components for a block of 2 rows. Components 0-3 start 4 partial sums per row,
// a loop over components 4-15 carries the 2 x 4 sums (each column component loaded once for
// both rows, each row value a scalar load, each term added by an explicit multiply-add),
// components 16-17 are added after it; then the
// rest of the formula (the exponential) runs on the sums.
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8,rows=2},canonicalize,cse

module {
  func.func @gauss() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 18, 18>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 18 : i64, pos = 0 : i64} : () -> vector<18xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 18 : i64, pos = 1 : i64} : () -> vector<18xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<18xf32>, vector<18xf32>) -> vector<1xf32>
    %3 = "keir.minus"(%2) : (vector<1xf32>) -> vector<1xf32>
    %4 = "keir.exp"(%3) : (vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%4) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @gauss(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: memref<?xf32>, %[[Y:[a-z0-9]+]]: memref<?xf32>,
// CHECK:         scf.for %{{.*}} step %c8 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// components 0-3 (no add: they start the sums)
// CHECK:           vector.load %[[Y]]
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf
// CHECK:           vector.load %[[Y]]
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf
// CHECK:           vector.load %[[Y]]
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf
// CHECK:           vector.load %[[Y]]
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           arith.mulf
// CHECK:           arith.mulf
// CHECK:           scf.for %{{.*}} = %c4 to %c16 step %c4 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>, vector<8xf32>)
// CHECK:             vector.load %[[Y]]
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             math.fma
// CHECK:             math.fma
// CHECK:             vector.load %[[Y]]
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             math.fma
// CHECK:             math.fma
// CHECK:             vector.load %[[Y]]
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             math.fma
// CHECK:             math.fma
// CHECK:             vector.load %[[Y]]
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             memref.load %[[X]]
// CHECK:             arith.subf
// CHECK:             math.fma
// CHECK:             math.fma
// CHECK-NOT:         memref.load
// CHECK:             scf.yield
// components 16-17
// CHECK:           vector.load %[[Y]]
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           math.fma
// CHECK:           math.fma
// CHECK:           vector.load %[[Y]]
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           memref.load %[[X]]
// CHECK:           arith.subf
// CHECK:           math.fma
// CHECK:           math.fma
// CHECK:           arith.addf
// CHECK-COUNT-2:   math.exp %{{.*}} : vector<8xf32>
// CHECK:           scf.yield
