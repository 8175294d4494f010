import DroverCore
import GRDB

extension ImageID: DatabaseValueConvertible {}
extension Rating: DatabaseValueConvertible {}
extension Assignment: DatabaseValueConvertible {}
