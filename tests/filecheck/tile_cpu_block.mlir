// keir-tile-cpu with blocks of 2 rows, 2 blocks per parallel work item and cache tiles of 16
// reduced indices: the states of a work item's blocks wait in a stack buffer between tiles;
// for each tile, each block reloads its states, sweeps the tile (each column vector loaded
// once for both rows of the block) and saves them; then per block the lanes are merged, the
// scalar tail runs and the rows that exist are stored (the second row of the last block is
// clamped to the last row and not stored).
// RUN: keir opt %s --pipeline keir-tile-cpu{lanes=8,rows=2,block=4,tile=16},canonicalize,cse

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
// CHECK-SAME:    %[[X:[a-z0-9]+]]: memref<?xf32>, %[[Y:[a-z0-9]+]]: memref<?xf32>, %[[OUT:[a-z0-9]+]]: memref<?xf32>, %[[M:[a-z0-9]+]]: index, %[[N:[a-z0-9]+]]: index, %{{.*}}: memref<2xi64>)
// CHECK:         %[[BLOCKS:.*]] = arith.divui %{{.*}}, %c2 : index
// CHECK:         scf.parallel (%[[W:.*]]) = (%c0) to (%{{.*}})
// CHECK:           %[[B0:.*]] = arith.muli %[[W]], %{{.*}} : index
// CHECK:           %[[B1:.*]] = arith.minui %{{.*}}, %[[BLOCKS]] : index
// CHECK:           %[[BUF:.*]] = memref.alloca() : memref<32xf32>
// CHECK:           scf.for %{{.*}} = %[[B0]] to %[[B1]] step %c1 {
// CHECK-COUNT-2:     vector.store %{{.*}}, %[[BUF]]
// CHECK:           scf.for %[[T0:.*]] = %c0 to %{{.*}} step %c16 {
// CHECK:             %[[T1:.*]] = arith.minui
// CHECK:             scf.for %[[B:.*]] = %[[B0]] to %{{.*}} step %c1 {
// CHECK:               %[[LAST:.*]] = arith.subi %[[M]], %c1 : index
// CHECK:               arith.minui %{{.*}}, %[[LAST]] : index
// CHECK-COUNT-2:       vector.load %[[BUF]]
// CHECK:               scf.for %{{.*}} = %[[T0]] to %[[T1]] step %c8 iter_args(%{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK-COUNT-2:         vector.load %[[Y]]
// CHECK-NOT:             vector.load
// CHECK:                 scf.yield %{{.*}}, %{{.*}} : vector<8xf32>, vector<8xf32>
// CHECK-COUNT-2:       vector.store %{{.*}}, %[[BUF]]
// CHECK:           scf.for %[[BF:.*]] = %[[B0]] to %[[B1]] step %c1 {
// CHECK:             scf.for {{.*}} -> (f32, f32)
// CHECK:             memref.store %{{.*}}, %[[OUT]]
// CHECK:             %[[EXISTS:.*]] = arith.cmpi ult, %{{.*}}, %[[M]] : index
// CHECK:             scf.if %[[EXISTS]]
// CHECK:               memref.store %{{.*}}, %[[OUT]]
