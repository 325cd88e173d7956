// keir-lower-cpu: a parallel loop over output rows (i), a sequential loop over j carrying the
// running sums, row variables loaded outside the inner loop, the output stored once per row.
// RUN: keir opt %s --pipeline keir-lower-cpu,canonicalize,cse

module {
  func.func @gauss() attributes {keir.arg_cats = array<i64: 0, 1, 1>, keir.arg_dims = array<i64: 2, 2, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<2xf32>, vector<2xf32>) -> vector<1xf32>
    %3 = "keir.minus"(%2) : (vector<1xf32>) -> vector<1xf32>
    %4 = "keir.exp"(%3) : (vector<1xf32>) -> vector<1xf32>
    %5 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 2 : i64} : () -> vector<1xf32>
    %6 = "keir.mult"(%4, %5) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%6) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @gauss(
// CHECK-SAME:    %[[X:.*]]: memref<?xf32>, %[[Y:.*]]: memref<?xf32>, %[[B:.*]]: memref<?xf32>, %[[OUT:.*]]: memref<?xf32>, %[[M:.*]]: index, %[[N:.*]]: index)
// CHECK-NOT:     "keir.
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK:         scf.parallel (%[[I:.*]]) = (%{{.*}}) to (%[[M]])
// CHECK:           memref.load %[[X]]
// CHECK:           memref.load %[[X]]
// CHECK:           %[[ACC:.*]] = scf.for %[[J:.*]] = %{{.*}} to %[[N]] step %{{.*}} iter_args(%[[S:.*]] = %[[ZERO]]) -> (f32)
// CHECK:             memref.load %[[Y]]
// CHECK:             arith.subf
// CHECK:             %[[E:.*]] = math.exp
// CHECK:             %[[BJ:.*]] = memref.load %[[B]][%[[J]]]
// CHECK:             %[[T:.*]] = arith.mulf %[[E]], %[[BJ]]
// CHECK:             %[[NEW:.*]] = arith.addf %[[S]], %[[T]] fastmath<contract> : f32
// CHECK:             scf.yield %[[NEW]] : f32
// CHECK:           memref.store %[[ACC]], %[[OUT]][%[[I]]]
// CHECK:           scf.reduce
