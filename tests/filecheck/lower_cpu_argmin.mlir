// keir-lower-cpu for ArgMin over i (axis 0): the parallel loop runs over j, the state is
// (running min, its index) and a strict comparison keeps the first index on ties.
// RUN: keir opt %s --pipeline keir-lower-cpu,canonicalize,cse

module {
  func.func @nearest() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 2, 2>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf64>
    %1 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf64>
    %2 = "keir.sqdist"(%0, %1) : (vector<2xf64>, vector<2xf64>) -> vector<1xf64>
    "keir.reduction"(%2) {axis = 0 : i64, k = 0 : i64, kind = "ArgMin"} : (vector<1xf64>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @nearest(
// CHECK-SAME:    %[[M:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index)
// CHECK-DAG:     %[[INF:.*]] = arith.constant 0x7FF0000000000000 : f64
// CHECK-DAG:     %[[ZERO:.*]] = arith.constant 0.000000e+00 : f64
// CHECK:         scf.parallel (%[[J:.*]]) = (%{{.*}}) to (%[[N]])
// CHECK:           scf.for %[[I:.*]] = %{{.*}} to %[[M]] step %{{.*}} iter_args(%[[V:.*]] = %[[INF]], %[[K:.*]] = %[[ZERO]]) -> (f64, f64)
// CHECK:             %[[IDX:.*]] = arith.sitofp
// CHECK:             %[[LT:.*]] = arith.cmpf olt, %[[D:.*]], %[[V]] : f64
// CHECK-NEXT:        %[[NV:.*]] = arith.select %[[LT]], %[[D]], %[[V]] : f64
// CHECK-NEXT:        %[[NK:.*]] = arith.select %[[LT]], %[[IDX]], %[[K]] : f64
// CHECK-NEXT:        scf.yield %[[NV]], %[[NK]] : f64, f64
