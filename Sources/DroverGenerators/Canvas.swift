/// An RGB pixel buffer with the few drawing operations the procedural painter needs.
struct Canvas {
    let width: Int
    let height: Int
    private(set) var pixels: [UInt8]
    /// Shapes are painted at this opacity over what is below, out of 256.
    private let opacity = 220

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        self.pixels = [UInt8](repeating: 0, count: width * height * 3)
    }

    mutating func fillVerticalGradient(top: Colour, bottom: Colour) {
        for row in 0..<height {
            let t = height > 1 ? Double(row) / Double(height - 1) : 0
            let colour = Colour(mix(top.red, bottom.red, t), mix(top.green, bottom.green, t), mix(top.blue, bottom.blue, t))
            for column in 0..<width { put(column, row, colour, opacity: 256) }
        }
    }

    mutating func fillCircle(centreX: Double, centreY: Double, radius: Double, colour: Colour) {
        fillRows(from: centreY - radius, to: centreY + radius, colour: colour) { y in
            let dy = y - centreY
            let half = max(0, radius * radius - dy * dy).squareRoot()
            return [(centreX - half, centreX + half)]
        }
    }

    mutating func fillRing(centreX: Double, centreY: Double, radius: Double, thickness: Double, colour: Colour) {
        let inner = radius - thickness
        fillRows(from: centreY - radius, to: centreY + radius, colour: colour) { y in
            let dy = y - centreY
            let outerHalf = max(0, radius * radius - dy * dy).squareRoot()
            guard abs(dy) < inner else { return [(centreX - outerHalf, centreX + outerHalf)] }
            let innerHalf = max(0, inner * inner - dy * dy).squareRoot()
            return [(centreX - outerHalf, centreX - innerHalf), (centreX + innerHalf, centreX + outerHalf)]
        }
    }

    mutating func fillRectangle(x: Double, y: Double, width: Double, height: Double, colour: Colour) {
        fillRows(from: y, to: y + height, colour: colour) { _ in [(x, x + width)] }
    }

    /// Paints, for each row between `top` and `bottom`, the horizontal spans `spans(rowCentre)` gives.
    private mutating func fillRows(from top: Double, to bottom: Double, colour: Colour, spans: (Double) -> [(Double, Double)]) {
        let firstRow = max(0, Int(top.rounded(.up)))
        let lastRow = min(height - 1, Int(bottom.rounded(.down)))
        guard firstRow <= lastRow else { return }
        for row in firstRow...lastRow {
            for (start, end) in spans(Double(row) + 0.5) {
                let firstColumn = max(0, Int(start.rounded()))
                let lastColumn = min(width - 1, Int(end.rounded()) - 1)
                guard firstColumn <= lastColumn else { continue }
                for column in firstColumn...lastColumn { put(column, row, colour, opacity: opacity) }
            }
        }
    }

    private mutating func put(_ column: Int, _ row: Int, _ colour: Colour, opacity: Int) {
        let index = (row * width + column) * 3
        pixels[index] = blend(pixels[index], colour.red, opacity)
        pixels[index + 1] = blend(pixels[index + 1], colour.green, opacity)
        pixels[index + 2] = blend(pixels[index + 2], colour.blue, opacity)
    }

    private func blend(_ below: UInt8, _ above: UInt8, _ opacity: Int) -> UInt8 {
        UInt8((Int(above) * opacity + Int(below) * (256 - opacity)) >> 8)
    }

    private func mix(_ a: UInt8, _ b: UInt8, _ t: Double) -> UInt8 {
        UInt8((Double(a) * (1 - t) + Double(b) * t).rounded())
    }
}
