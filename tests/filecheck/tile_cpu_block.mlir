// keir-tile-cpu with a 2 x 1 register block: each parallel step takes 2 output rows (the
// second clamped to the last row), loads each column vector once for both rows, keeps one
// state per row, and stores the second row only if it exists.
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8,rows=2},canonicalize,cse

module {
  func.func @dot() attributes {keir.arg_cats = array<i64: 0, 1>, keir.arg_dims = array<i64: 2, 2>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf32>
    %2 = "keir.scalprod"(%0, %1) : (vector<2xf32>, vector<2xf32>) -> vector<1xf32>
    "keir.reduction"(%2) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @dot(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: memref<?xf32>, %[[Y:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[M:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index)
// CHECK:         %[[BLOCKS:.*]] = arith.divui %{{.*}}, %c2 : index
// CHECK:         scf.parallel (%[[B:.*]]) = (%c0) to (%[[BLOCKS]])
// CHECK:           %[[R0:.*]] = arith.muli %[[B]], %c2 : index
// CHECK:           %[[LAST:.*]] = arith.subi %[[M]], %c1 : index
// CHECK:           %[[R1:.*]] = arith.minui %{{.*}}, %[[LAST]] : index
// CHECK:           scf.for %{{.*}} iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2:     vector.load %[[Y]]
// CHECK-NOT:         vector.load
// CHECK:             scf.yield %{{.*}}, %{{.*}} : vector<8xf32>, vector<8xf32>
// CHECK:           scf.for {{.*}} -> (f32, f32)
// CHECK:           memref.store %{{.*}}, %[[OUT]][%[[R0]]]
// CHECK:           %[[EXISTS:.*]] = arith.cmpi ult, %{{.*}}, %[[M]] : index
// CHECK:           scf.if %[[EXISTS]]
// CHECK:             memref.store %{{.*}}, %[[OUT]][%[[R1]]]
