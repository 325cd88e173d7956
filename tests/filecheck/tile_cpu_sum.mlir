// keir-tile-cpu with 8 lanes: parallel chunks of rows; per cache tile of j and per row, a
// vector loop over 8 consecutive j (the row's state waits in a stack buffer between tiles)
// loading each component of y and b as one vector (layout "tiles": component k of row
// j = 8 t + l at 8 t D + 8 k + l); then per row the 8 partial sums merged by a loop over the
// lanes (stored to the stack) and an exact scalar tail for the last N mod 8 indices.
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8},canonicalize,cse

module {
  func.func @gauss() attributes {keir.arg_cats = array<i64: 0, 1, 1>, keir.arg_dims = array<i64: 2, 2, 1>} {
    %0 = "keir.var"() {cat = 0 : i64, dim = 2 : i64, pos = 0 : i64} : () -> vector<2xf32>
    %1 = "keir.var"() {cat = 1 : i64, dim = 2 : i64, pos = 1 : i64} : () -> vector<2xf32>
    %2 = "keir.sqdist"(%0, %1) : (vector<2xf32>, vector<2xf32>) -> vector<1xf32>
    %3 = "keir.var"() {cat = 1 : i64, dim = 1 : i64, pos = 2 : i64} : () -> vector<1xf32>
    %4 = "keir.mult"(%2, %3) : (vector<1xf32>, vector<1xf32>) -> vector<1xf32>
    "keir.reduction"(%4) {axis = 1 : i64, k = 0 : i64, kind = "Sum"} : (vector<1xf32>) -> ()
    return
  }
}

// CHECK-LABEL: func.func @gauss(
// CHECK-SAME:    %[[X:[a-z0-9]+]]: memref<?xf32>, %[[Y:[a-z0-9]+]]: memref<?xf32>, %[[B:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[M:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %{{.*}}: memref<2xi64>)
// CHECK:         scf.parallel (%{{.*}}) = (%{{.*}}) to (%{{.*}})
// CHECK:           %[[BUF:.*]] = memref.alloca() : memref<{{[0-9]+}}xf32>
// CHECK:           %[[NV:.*]] = arith.muli {{.*}}, %c8 : index
// CHECK:           scf.for %[[T0:.*]] = %c0 to %[[NV]] step %{{.*}} {
// CHECK:             scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %c1 {
// CHECK:               %[[X0:.*]] = memref.load %[[X]]
// CHECK:               %[[X1:.*]] = memref.load %[[X]]
// CHECK:               vector.broadcast %[[X0]] : f32 to vector<8xf32>
// CHECK:               %[[S0:.*]] = vector.load %[[BUF]]
// CHECK:               %[[V:.*]] = scf.for %[[J:.*]] = %[[T0]] to %{{.*}} step %c8 iter_args(%[[ACC:.*]] = %[[S0]]) -> (vector<8xf32>)
// CHECK:                 %[[J0:.*]] = arith.muli %[[J]], %c2 : index
// CHECK:                 vector.load %[[Y]][%[[J0]]] : memref<?xf32>, vector<8xf32>
// CHECK:                 %[[J1:.*]] = arith.addi %[[J0]], %c8 : index
// CHECK:                 vector.load %[[Y]][%[[J1]]] : memref<?xf32>, vector<8xf32>
// CHECK:                 vector.load %[[B]][%[[J]]] : memref<?xf32>, vector<8xf32>
// CHECK:                 %[[NEW:.*]] = arith.addf %[[ACC]], %{{.*}} fastmath<contract> : vector<8xf32>
// CHECK:                 scf.yield %[[NEW]] : vector<8xf32>
// CHECK:               vector.store %[[V]], %[[BUF]]
// CHECK:           scf.for %[[R:.*]] = %{{.*}} to %{{.*}} step %c1 {
// CHECK:             %[[LANES_BUF:.*]] = memref.alloca() : memref<8xf32>
// CHECK:             %[[L0:.*]] = memref.load %[[LANES_BUF]][%c0]
// CHECK:             %[[LANES:.*]] = scf.for %[[K:.*]] = %c1 to %c8 step %c1 iter_args(%[[P:.*]] = %[[L0]]) -> (f32)
// CHECK:               %[[LK:.*]] = memref.load %[[LANES_BUF]][%[[K]]]
// CHECK:               arith.addf %[[P]], %[[LK]]
// CHECK:             %[[S:.*]] = scf.for %[[T:.*]] = %[[NV]] to %[[N]] step %c1 iter_args(%{{.*}} = %[[LANES]]) -> (f32)
// CHECK:               %[[LANE:.*]] = arith.remui %[[T]], %c8 : index
// CHECK:               %[[TILE:.*]] = arith.subi %[[T]], %[[LANE]] : index
// CHECK:               %[[T2:.*]] = arith.muli %[[TILE]], %c2 : index
// CHECK:               %[[AT:.*]] = arith.addi %[[T2]], %[[LANE]] : index
// CHECK:               memref.load %[[Y]][%[[AT]]]
// CHECK:             memref.store %[[S]], %[[OUT]][%[[R]]]
